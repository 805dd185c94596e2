import type { Include, Resource } from "./client.js";
import type { ClientError } from "./errors.js";
import type { ModelTypes } from "./model.js";
import type { Query } from "./query.js";
import type { ConnectionState } from "./ws.js";
/** What `useList` returns. */
export interface ListState<R> {
    /** The page, in the query's order, equal to the server's answer while `fresh`. */
    items: readonly R[];
    /** How many rows match the query in all. */
    total: number;
    /** True until the first page arrived. */
    loading: boolean;
    /** Why the list cannot be read (a bad query, no access), or the last failed read. */
    error: ClientError | null;
    /** False while the socket is down or a page is being read again: what is shown may be behind. */
    fresh: boolean;
    /** The socket's state, for a connection indicator. */
    connection: ConnectionState;
}
/** What `useItem` returns. */
export interface ItemState<R> {
    /** The row; `null` while loading, when it does not exist or was deleted (`error` says `not_found`). */
    item: R | null;
    loading: boolean;
    error: ClientError | null;
    fresh: boolean;
    connection: ConnectionState;
}
/**
 * A live page of `query`: `useList(api.messages, { where: { roomId: { equals: 1 } }, orderBy: [{ createdAt: "desc" }], take: 20 })`.
 * The query is compared by value, so an object literal written in the render is fine. A filter through a relation
 * works too (`resource.live` reads such a page again on changes).
 */
export declare function useList<T extends ModelTypes>(resource: Resource<T>, query?: Query<T["filter"], T["orderBy"]>): ListState<T["record"]>;
/**
 * A live page of `query` with the related rows `include` names, as `resource.liveIncluding` keeps it:
 * `useListIncluding(api.messages, { where: { roomId: { equals: 1 } } }, "author")`. Query and include are compared
 * by value.
 */
export declare function useListIncluding<T extends ModelTypes>(resource: Resource<T>, query: Query<T["filter"], T["orderBy"]>, include: Include): ListState<T["withRelations"]>;
/** One row kept current: `useItem(api.messages, id)`; `id` `null` or `undefined` reads nothing. */
export declare function useItem<T extends ModelTypes>(resource: Resource<T>, id: T["id"] | null | undefined): ItemState<T["record"]>;
