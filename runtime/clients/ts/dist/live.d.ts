import { ClientError } from "./errors.js";
import type { HttpTransport } from "./http.js";
import { type ModelSpec, type ModelTypes } from "./model.js";
import type { Query } from "./query.js";
import type { ChangeKind, WsTransport } from "./ws.js";
/** What a live list holds at one moment. */
export interface LiveSnapshot<R> {
    /** The page, in the query's order. */
    readonly items: readonly R[];
    /** How many rows match the query in all. */
    readonly total: number;
    readonly skip: number;
    readonly take: number;
    /** The last event reflected: the snapshot equals the server's answer after the event with this number. */
    readonly seq: number;
    /** False while the socket is down, the page is being refetched, or the list is not live: it may be behind. */
    readonly fresh: boolean;
    /** True until the first page arrived (or failed). */
    readonly loading: boolean;
    /** Why the list cannot be read or stopped changing (a refused subscription, a bad query). */
    readonly error: ClientError | null;
}
/** What a live item holds at one moment. */
export interface LiveItemSnapshot<R> {
    /** The row; `null` while loading, once deleted, or when it cannot be read (see `error`). */
    readonly item: R | null;
    readonly seq: number;
    readonly fresh: boolean;
    readonly loading: boolean;
    /** `not_found` when the row does not exist (or was deleted), or why it cannot be read. */
    readonly error: ClientError | null;
}
/** What live lists need of the client. */
export interface LiveHost {
    /** The socket; `null` without realtime (the list is then read over HTTP, after each own write to its model). */
    readonly ws: WsTransport | null;
    readonly http: HttpTransport;
    /** Calls `listener` after each write this client made to `model`; returns the function that stops it. */
    onWrite(model: string, listener: () => void): () => void;
}
/** Something that changes and says so: what `useSyncExternalStore` and UIs subscribe to. */
declare abstract class Observable<S> {
    protected current: S;
    private readonly listeners;
    protected constructor(current: S);
    /** The current snapshot (the same object until it changes). */
    snapshot(): S;
    /** Calls `listener` with each new snapshot; returns the function that stops it. */
    subscribe(listener: (snapshot: S) => void): () => void;
    /** Waits for the first snapshot that satisfies `test`; rejects with `TimeoutError` after `waitMs`. */
    when(test: (snapshot: S) => boolean, waitMs: number): Promise<S>;
    protected publish(next: S): void;
}
/**
 * The machinery a live list and a live item share: events queue up and are handled in batches, at most one read
 * (a refetch) per batch, events that arrive during the read handled after it (those it reflects are dropped by
 * their sequence number), then one snapshot published.
 */
declare abstract class LiveQuery<T extends ModelTypes, S> extends Observable<S> {
    protected readonly host: LiveHost;
    protected readonly model: ModelSpec<T>;
    protected seq: number;
    protected fresh: boolean;
    protected loading: boolean;
    protected error: ClientError | null;
    /** What is held cannot be known to be right (a change that could not be applied, a gap): read it again. */
    protected needsRefetch: boolean;
    /** Stopped for good: the subscription was refused, or the query cannot be read. */
    private halted;
    private closed;
    /** Events, each with whether it came on the own channel (not a related one). */
    private readonly queue;
    private running;
    private retryTimer;
    private readonly stops;
    /**
     * `channel` is what is held's own channel; `related` (model name to list channel) the other models it reads
     * through, whose events only mean "read again".
     */
    protected constructor(host: LiveHost, model: ModelSpec<T>, channel: string | null, initial: S, related?: ReadonlyMap<string, string>);
    /** Whether events keep this current (the model is realtime and the client has a socket). */
    readonly live: boolean;
    /** Waits for the first read (or the error that prevented it). */
    loaded(waitMs: number): Promise<S>;
    /** Stops the updates (and, for the last listener of its channel on this client, the subscription). */
    close(): void;
    /** Calls `stop` when this is closed. */
    whenClosed(stop: () => void): void;
    /** Applies one committed change, or marks what is held for a refetch. */
    protected abstract apply(seq: number, kind: ChangeKind, id: string, data: unknown): void;
    /** Reads what is held anew: over the socket (with the sequence number it reflects) when live, else over HTTP. */
    protected abstract read(): Promise<void>;
    /** The snapshot of the state now. */
    protected abstract snapshotNow(fresh: boolean): S;
    /** A read was refused for good (`not_found`, say): what is held is forgotten. */
    protected abstract forget(): void;
    /** A channel is (again) subscribed from `seq`: `resumed` false when events were missed. */
    protected subscribed(_seq: number, resumed: boolean): void;
    private receive;
    private markStale;
    private schedule;
    private run;
    private handle;
    /** One read; whether it succeeded. */
    private refetch;
    private halt;
}
/** How a live list whose query reads through relations is kept: read again after any change it may reflect. */
export interface Following {
    /** The `include` it reads with (the REST parameter's text), or `null`: then it holds plain records. */
    readonly include: string | null;
    /** The models it reads through, by name, and their list channels (`follow.ts`). */
    readonly related: ReadonlyMap<string, string>;
}
/**
 * A live page of a model's query: its records (`R` = the record type), or, for `liveIncluding`, its records with
 * the related rows the include names (`R` = `<Model>WithRelations`). Call `close()` when done with it.
 */
export declare class LiveList<T extends ModelTypes, R = T["record"]> extends LiveQuery<T, LiveSnapshot<R>> {
    private readonly query;
    private readonly following;
    private items;
    private total;
    private skip;
    private take;
    private readonly params;
    /** `following`: the query reads through relations, and the page is read again on changes instead of changed. */
    constructor(host: LiveHost, model: ModelSpec<T>, query: Query<T["filter"], T["orderBy"]>, following?: Following | null);
    /** Waits until the list reflects the event `seq` (for example a write's `Event-Seq`) and is fresh. */
    reflecting(seq: number, waitMs: number): Promise<LiveSnapshot<R>>;
    protected snapshotNow(fresh: boolean): LiveSnapshot<R>;
    protected forget(): void;
    protected read(): Promise<void>;
    private matches;
    /** The page's records, where they are plain records (the list does not follow relations). */
    private get records();
    private sort;
    protected subscribed(seq: number, resumed: boolean): void;
    protected apply(seq: number, kind: ChangeKind, id: string, data: unknown): void;
}
/** One row kept current through its item channel. Call `close()` when done with it. */
export declare class LiveItem<T extends ModelTypes> extends LiveQuery<T, LiveItemSnapshot<T["record"]>> {
    private readonly id;
    private item;
    constructor(host: LiveHost, model: ModelSpec<T>, id: string);
    protected snapshotNow(fresh: boolean): LiveItemSnapshot<T["record"]>;
    protected forget(): void;
    protected read(): Promise<void>;
    protected apply(seq: number, kind: ChangeKind, _id: string, data: unknown): void;
}
/** A query as the REST list's parameters and the WebSocket `request`'s `params` (absent parts left out). */
export declare function queryParams(query: Query<unknown, unknown>): {
    [key: string]: unknown;
};
export {};
