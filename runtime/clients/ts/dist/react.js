// React hooks (`<package>/react`): a live list or a live item as component state. React is an optional peer
// dependency of the package; nothing else imports this module.
import { useEffect, useState } from "react";
import { queryParams } from "./live.js";
import { encodeJson } from "./wire.js";
/**
 * A live page of `query`: `useList(api.messages, { where: { roomId: { equals: 1 } }, orderBy: [{ createdAt: "desc" }], take: 20 })`.
 * The query is compared by value, so an object literal written in the render is fine. A filter through a relation
 * works too (`resource.live` reads such a page again on changes).
 */
export function useList(resource, query = {}) {
    return useLiveList(resource, encodeJson(queryParams(query)), () => resource.live(query));
}
/**
 * A live page of `query` with the related rows `include` names, as `resource.liveIncluding` keeps it:
 * `useListIncluding(api.messages, { where: { roomId: { equals: 1 } } }, "author")`. Query and include are compared
 * by value.
 */
export function useListIncluding(resource, query, include) {
    const key = `${encodeJson(queryParams(query))} ${encodeJson(include)}`;
    return useLiveList(resource, key, () => resource.liveIncluding(query, include));
}
/** A live list as component state, opened anew when `key` (what `open` reads, by value) changes. */
function useLiveList(resource, key, open) {
    const [state, setState] = useState(() => listState(emptyList(), resource.client.connection));
    useEffect(() => {
        const live = open();
        const update = () => setState(listState(live.snapshot(), resource.client.connection));
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
export function useItem(resource, id) {
    const key = id === null || id === undefined ? null : String(id);
    const [state, setState] = useState(() => itemState(emptyItem(key !== null), resource.client.connection));
    useEffect(() => {
        if (key === null || id === null || id === undefined) {
            setState(itemState(emptyItem(false), resource.client.connection));
            return resource.client.onConnection((connection) => setState((s) => ({ ...s, connection })));
        }
        const live = resource.item(id);
        const update = () => setState(itemState(live.snapshot(), resource.client.connection));
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
function emptyList() {
    return { items: [], total: 0, skip: 0, take: 0, seq: 0, fresh: false, loading: true, error: null };
}
function emptyItem(loading) {
    return { item: null, seq: 0, fresh: false, loading, error: null };
}
function listState(snapshot, connection) {
    return {
        items: snapshot.items,
        total: snapshot.total,
        loading: snapshot.loading,
        error: snapshot.error,
        fresh: snapshot.fresh,
        connection,
    };
}
function itemState(snapshot, connection) {
    return { item: snapshot.item, loading: snapshot.loading, error: snapshot.error, fresh: snapshot.fresh, connection };
}
