// What the runtime knows of a model: its generated types and the generated spec (routes, channels, how to decode
// a record, how to evaluate its filter and order). One spec per model is generated in `models.ts`.

import { ProtocolError } from "./errors.js";
import type { Truth } from "./query.js";

/** The generated types of one model. */
export interface ModelTypes {
    record: object;
    create: object;
    update: object;
    patch: object;
    filter: object;
    orderBy: object;
    id: string | number | bigint;
    /** The record with the relations a read's `include` can add, each optional (`<Model>WithRelations`). */
    withRelations: object;
}

/** One model as the runtime sees it, generated from the model graph. */
export interface ModelSpec<T extends ModelTypes> {
    /** The schema name (`request`s and events use it). */
    readonly name: string;
    /** The REST collection path (`/api/messages`). */
    readonly route: string;
    /** The list channel (`Message:list`); `null` for a model with `realtime: false`. */
    readonly listChannel: string | null;
    /** The prefix of one row's channel (`Message:item:`); `null` without realtime. */
    readonly itemChannelPrefix: string | null;
    /** The id field's name on the wire. */
    readonly idField: string;
    /** A record as the server sends it -> the record type (bigint fields become `bigint`). Throws on a bad shape. */
    readonly decode: (raw: unknown) => T["record"];
    /** A record with included relations (`include`) -> `<Model>WithRelations`, each related row decoded by its own
     * model. Throws on a bad shape. */
    readonly decodeIncluded: (raw: unknown) => T["withRelations"];
    /** The filter's three-valued truth for a record, as the server's SQL evaluates it. */
    readonly truth: (filter: T["filter"], record: T["record"]) => Truth;
    /** The model's relations, by name: what `include` and relation filters (docs/rest.md) go through, and the
     * related models whose channels a live list that reads through them follows. */
    readonly relations: readonly Relation[];
    /** Orders two records as the server orders a list with these keys (the id breaks ties). */
    readonly compare: (keys: readonly T["orderBy"][], a: T["record"], b: T["record"]) => number;
}

/** One relation of a model as the client sees it, generated from the model graph. */
export interface Relation {
    /** The name `include` and filters use (`author`, `messages`). */
    readonly name: string;
    /** The related model's schema name. */
    readonly model: string;
    /** The related model's list channel; `null` when it is not realtime. */
    readonly channel: string | null;
    /** The related model's own relations (a function, so that a model can refer to itself or to a later one). */
    readonly relations: () => readonly Relation[];
}

/** One page of a list: the one list shape of the API. */
export interface Page<R> {
    items: R[];
    /** How many rows match the query in all. */
    total: number;
    skip: number;
    take: number;
}

/** The id of a record as it prints (as events and channels carry it). */
export function idString<T extends ModelTypes>(model: ModelSpec<T>, record: T["record"]): string {
    return String((record as { readonly [field: string]: unknown })[model.idField]);
}

/** A list answer, decoded; throws `ProtocolError` on another shape. */
export function decodePage<T extends ModelTypes>(model: ModelSpec<T>, raw: unknown): Page<T["record"]> {
    return decodeItems(model, raw, (item) => decodeRecord(model, item));
}

/** A list answer with included relations, decoded; throws `ProtocolError` on another shape. */
export function decodeIncludedPage<T extends ModelTypes>(model: ModelSpec<T>, raw: unknown): Page<T["withRelations"]> {
    return decodeItems(model, raw, (item) => decodeIncludedRecord(model, item));
}

function decodeItems<T extends ModelTypes, R>(model: ModelSpec<T>, raw: unknown, decode: (item: unknown) => R): Page<R> {
    const page = raw as { items?: unknown; total?: unknown; skip?: unknown; take?: unknown } | null;
    if (
        typeof page !== "object" ||
        page === null ||
        !Array.isArray(page.items) ||
        typeof page.total !== "number" ||
        typeof page.skip !== "number" ||
        typeof page.take !== "number"
    ) {
        throw new ProtocolError(`unexpected list answer for ${model.name}`);
    }
    return { items: page.items.map(decode), total: page.total, skip: page.skip, take: page.take };
}

/** A record, decoded; throws `ProtocolError` on another shape. */
export function decodeRecord<T extends ModelTypes>(model: ModelSpec<T>, raw: unknown): T["record"] {
    return decodeWith(model, raw, model.decode);
}

/** A record with included relations, decoded; throws `ProtocolError` on another shape. */
export function decodeIncludedRecord<T extends ModelTypes>(model: ModelSpec<T>, raw: unknown): T["withRelations"] {
    return decodeWith(model, raw, model.decodeIncluded);
}

function decodeWith<T extends ModelTypes, R>(model: ModelSpec<T>, raw: unknown, decode: (raw: unknown) => R): R {
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
        throw new ProtocolError(`unexpected ${model.name} record: ${JSON.stringify(raw)}`);
    }
    try {
        return decode(raw);
    } catch (error) {
        throw new ProtocolError(`unexpected ${model.name} record: ${error instanceof Error ? error.message : String(error)}`);
    }
}
