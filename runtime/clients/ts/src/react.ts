// React hooks (`<package>/react`): a live list or a live item as component state. React is an optional peer
// dependency of the package; nothing else imports this module.

import { useEffect, useState } from "react";

import type { Include, Resource } from "./client.js";
import type { ClientError } from "./errors.js";
import { type LiveItemSnapshot, type LiveList, type LiveSnapshot, queryParams } from "./live.js";
import type { ModelTypes } from "./model.js";
import type { Query } from "./query.js";
import { encodeJson } from "./wire.js";
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
export function useList<T extends ModelTypes>(resource: Resource<T>, query: Query<T["filter"], T["orderBy"]> = {}): ListState<T["record"]> {
    return useLiveList(resource, encodeJson(queryParams(query)), () => resource.live(query));
}

/**
 * A live page of `query` with the related rows `include` names, as `resource.liveIncluding` keeps it:
 * `useListIncluding(api.messages, { where: { roomId: { equals: 1 } } }, "author")`. Query and include are compared
 * by value.
 */
export function useListIncluding<T extends ModelTypes>(
    resource: Resource<T>,
    query: Query<T["filter"], T["orderBy"]>,
    include: Include,
): ListState<T["withRelations"]> {
    const key = `${encodeJson(queryParams(query))} ${encodeJson(include)}`;
    return useLiveList(resource, key, () => resource.liveIncluding(query, include));
}

/** A live list as component state, opened anew when `key` (what `open` reads, by value) changes. */
function useLiveList<T extends ModelTypes, R>(resource: Resource<T>, key: string, open: () => LiveList<T, R>): ListState<R> {
    const [state, setState] = useState<ListState<R>>(() => listState(emptyList(), resource.client.connection));
    useEffect(() => {
        const live = open();
        const update = (): void => setState(listState(live.snapshot(), resource.client.connection));
        const stopList = live.subscribe(update);
        const stopConnection = resource.client.onConnection(update);
        update();
        return () => {
            stopList();
            stopConnection();
            live.close();
        };
        // The query is a dependency by value: `key` is its JSON (`open` reads nothing else).
        // eslint-disable-next-line react-hooks/exhaustive-deps
    }, [resource, key]);
    return state;
}

/** One row kept current: `useItem(api.messages, id)`; `id` `null` or `undefined` reads nothing. */
export function useItem<T extends ModelTypes>(resource: Resource<T>, id: T["id"] | null | undefined): ItemState<T["record"]> {
    const key = id === null || id === undefined ? null : String(id);
    const [state, setState] = useState<ItemState<T["record"]>>(() => itemState(emptyItem(key !== null), resource.client.connection));
    useEffect(() => {
        if (key === null || id === null || id === undefined) {
            setState(itemState(emptyItem(false), resource.client.connection));
            return resource.client.onConnection((connection) => setState((s) => ({ ...s, connection })));
        }
        const live = resource.item(id);
        const update = (): void => setState(itemState(live.snapshot(), resource.client.connection));
        const stopItem = live.subscribe(update);
        const stopConnection = resource.client.onConnection(update);
        update();
        return () => {
            stopItem();
            stopConnection();
            live.close();
        };
        // eslint-disable-next-line react-hooks/exhaustive-deps
    }, [resource, key]);
    return state;
}

function emptyList<R>(): LiveSnapshot<R> {
    return { items: [], total: 0, skip: 0, take: 0, seq: 0, fresh: false, loading: true, error: null };
}

function emptyItem<R>(loading: boolean): LiveItemSnapshot<R> {
    return { item: null, seq: 0, fresh: false, loading, error: null };
}

function listState<R>(snapshot: LiveSnapshot<R>, connection: ConnectionState): ListState<R> {
    return {
        items: snapshot.items,
        total: snapshot.total,
        loading: snapshot.loading,
        error: snapshot.error,
        fresh: snapshot.fresh,
        connection,
    };
}

function itemState<R>(snapshot: LiveItemSnapshot<R>, connection: ConnectionState): ItemState<R> {
    return { item: snapshot.item, loading: snapshot.loading, error: snapshot.error, fresh: snapshot.fresh, connection };
}
