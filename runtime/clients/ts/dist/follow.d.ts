import type { Relation } from "./model.js";
/**
 * The list channels, by model name, of every model that `filter` (a list's `where`) and `include` (the text form
 * `"author,room.owner"`, that text holding the object form as JSON, or the object form) read through `relations`,
 * the list's model's relations. A relation to a model without a channel cannot be followed (its changes are not
 * announced): that throws a `ProtocolError` naming the relation. Names that are no relation are left to the server,
 * which refuses them on the first read.
 */
export declare function followedChannels(relations: readonly Relation[], filter: unknown, include: string | object | null | undefined): Map<string, string>;
