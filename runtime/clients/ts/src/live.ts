// Live lists and live items: one page of a query (or one row), kept equal to what the server would answer by
// applying the model's committed changes as they arrive, and refetching when a change may have shifted the page.
// This is what a UI binds to. The rules are those of the Rust client's live list (docs/client.md):
// - an event at or below the page's sequence number is already in it, and is dropped (this also drops duplicates);
// - an event is applied only where the record matches the query's filter (the model's generated `truth`, with the
//   server's SQL semantics), placed in the query's order (the generated `compare`), and the page cut to its size;
// - an event whose effect cannot be known from the page alone (a row changed outside the page, a row leaving a
//   full page, anything on a page after the first) marks the page for a refetch: one `request` after the events
//   already queued are applied, stitched by its sequence number;
// - a gap (a resume the server could not serve) refetches too; while the socket is down the snapshot is not fresh.

import { ClientError, ProtocolError, RequestError, TimeoutError } from "./errors.js";
import type { HttpTransport } from "./http.js";
import { type ModelSpec, type ModelTypes, type Page, decodePage, decodeRecord, idString } from "./model.js";
import type { Query } from "./query.js";
import type { ChannelEvent, ChangeKind, WsTransport } from "./ws.js";

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
abstract class Observable<S> {
    private readonly listeners = new Set<(snapshot: S) => void>();

    protected constructor(protected current: S) {}

    /** The current snapshot (the same object until it changes). */
    snapshot(): S {
        return this.current;
    }

    /** Calls `listener` with each new snapshot; returns the function that stops it. */
    subscribe(listener: (snapshot: S) => void): () => void {
        this.listeners.add(listener);
        return () => this.listeners.delete(listener);
    }

    /** Waits for the first snapshot that satisfies `test`; rejects with `TimeoutError` after `waitMs`. */
    when(test: (snapshot: S) => boolean, waitMs: number): Promise<S> {
        if (test(this.current)) {
            return Promise.resolve(this.current);
        }
        return new Promise((resolve, reject) => {
            const timer = setTimeout(() => {
                off();
                reject(new TimeoutError());
            }, waitMs);
            const off = this.subscribe((snapshot) => {
                if (test(snapshot)) {
                    clearTimeout(timer);
                    off();
                    resolve(snapshot);
                }
            });
        });
    }

    protected publish(next: S): void {
        this.current = next;
        for (const listener of [...this.listeners]) {
            listener(next);
        }
    }
}

/**
 * The machinery a live list and a live item share: events queue up and are handled in batches, at most one read
 * (a refetch) per batch, events that arrive during the read handled after it (those it reflects are dropped by
 * their sequence number), then one snapshot published.
 */
abstract class LiveQuery<T extends ModelTypes, S> extends Observable<S> {
    protected seq = 0;
    protected fresh = false;
    protected loading = true;
    protected error: ClientError | null = null;
    /** What is held cannot be known to be right (a change that could not be applied, a gap): read it again. */
    protected needsRefetch = true;
    /** Stopped for good: the subscription was refused, or the query cannot be read. */
    private halted = false;
    private closed = false;
    private readonly queue: ChannelEvent[] = [];
    private running = false;
    private retryTimer: ReturnType<typeof setTimeout> | null = null;
    private readonly stops: (() => void)[] = [];

    protected constructor(
        protected readonly host: LiveHost,
        protected readonly model: ModelSpec<T>,
        channel: string | null,
        initial: S,
    ) {
        super(initial);
        this.live = host.ws !== null && channel !== null;
        if (host.ws !== null && channel !== null) {
            // Listen first: every event after the read's sequence number is then in the queue.
            this.stops.push(host.ws.listen(channel, (event) => this.receive(event)));
        } else {
            // Not live: read over HTTP, and again after each of this client's own writes to the model.
            this.stops.push(host.onWrite(model.name, () => this.markStale()));
        }
        this.schedule();
    }

    /** Whether events keep this current (the model is realtime and the client has a socket). */
    readonly live: boolean;

    /** Waits for the first read (or the error that prevented it). */
    loaded(waitMs: number): Promise<S> {
        return this.when(() => !this.loading, waitMs);
    }

    /** Stops the updates (and, for the last listener of its channel on this client, the subscription). */
    close(): void {
        if (this.closed) {
            return;
        }
        this.closed = true;
        this.queue.length = 0;
        if (this.retryTimer !== null) {
            clearTimeout(this.retryTimer);
        }
        for (const stop of this.stops.splice(0)) {
            stop();
        }
    }

    /** Calls `stop` when this is closed. */
    whenClosed(stop: () => void): void {
        if (this.closed) {
            stop();
        } else {
            this.stops.push(stop);
        }
    }

    /** Applies one committed change, or marks what is held for a refetch. */
    protected abstract apply(seq: number, kind: ChangeKind, id: string, data: unknown): void;
    /** Reads what is held anew: over the socket (with the sequence number it reflects) when live, else over HTTP. */
    protected abstract read(): Promise<void>;
    /** The snapshot of the state now. */
    protected abstract snapshotNow(fresh: boolean): S;
    /** A read was refused for good (`not_found`, say): what is held is forgotten. */
    protected abstract forget(): void;

    private receive(event: ChannelEvent): void {
        this.queue.push(event);
        this.schedule();
    }

    private markStale(): void {
        this.needsRefetch = true;
        this.schedule();
    }

    private schedule(): void {
        if (!this.running && !this.closed && !this.halted) {
            this.running = true;
            queueMicrotask(() => void this.run());
        }
    }

    private async run(): Promise<void> {
        try {
            for (;;) {
                while (this.queue.length > 0 && !this.closed && !this.halted) {
                    this.handle(this.queue.shift() as ChannelEvent);
                }
                if (this.closed || this.halted || !this.needsRefetch) {
                    break;
                }
                if (!(await this.refetch())) {
                    break;
                }
                if (this.queue.length === 0) {
                    break;
                }
            }
        } finally {
            this.running = false;
        }
        if (!this.closed) {
            this.publish(this.snapshotNow(this.fresh && !this.needsRefetch && this.live));
            if (this.queue.length > 0) {
                this.schedule();
            }
        }
    }

    private handle(event: ChannelEvent): void {
        switch (event.type) {
            case "update":
                if (event.seq > this.seq) {
                    this.apply(event.seq, event.kind, event.id, event.data);
                }
                break;
            case "disconnected":
                this.fresh = false;
                break;
            case "subscribed":
                if (!event.resumed) {
                    this.needsRefetch = true;
                } else if (!this.needsRefetch) {
                    this.fresh = true;
                }
                break;
            case "refused":
                this.forget();
                this.error = new RequestError(event.error);
                this.halt();
                break;
        }
    }

    /** One read; whether it succeeded. */
    private async refetch(): Promise<boolean> {
        try {
            await this.read();
            this.error = null;
            this.fresh = true;
            this.loading = false;
            this.needsRefetch = false;
            return true;
        } catch (caught) {
            const error = caught instanceof ClientError ? caught : new ProtocolError(String(caught));
            this.fresh = false;
            if (error instanceof RequestError || error instanceof ProtocolError) {
                // The query itself is refused (a bad filter, no access, no such row): it would fail again.
                this.forget();
                this.error = error;
                this.halt();
            } else if (!this.live) {
                // Over HTTP: report it; the next own write reads again.
                this.error = error;
                this.loading = false;
                this.needsRefetch = false;
            } else if (error instanceof TimeoutError) {
                // The socket is up but the answer is late: try again shortly.
                this.retryTimer = setTimeout(() => this.markStale(), 1000);
            }
            // Disconnected: the resubscription's `subscribed` brings us back here.
            return false;
        }
    }

    private halt(): void {
        this.halted = true;
        this.loading = false;
        this.fresh = false;
        this.needsRefetch = false;
        this.queue.length = 0;
    }
}

/** A live page of a model's query. Call `close()` when done with it. */
export class LiveList<T extends ModelTypes> extends LiveQuery<T, LiveSnapshot<T["record"]>> {
    private items: T["record"][] = [];
    private total = 0;
    private skip = 0;
    private take = 0;
    private readonly params: { [key: string]: unknown };

    constructor(host: LiveHost, model: ModelSpec<T>, private readonly query: Query<T["filter"], T["orderBy"]>) {
        super(host, model, model.listChannel, { items: [], total: 0, skip: 0, take: 0, seq: 0, fresh: false, loading: true, error: null });
        this.params = queryParams(query);
    }

    /** Waits until the list reflects the event `seq` (for example a write's `Event-Seq`) and is fresh. */
    reflecting(seq: number, waitMs: number): Promise<LiveSnapshot<T["record"]>> {
        return this.when((s) => s.fresh && s.seq >= seq, waitMs);
    }

    protected snapshotNow(fresh: boolean): LiveSnapshot<T["record"]> {
        return {
            items: this.items.slice(),
            total: this.total,
            skip: this.skip,
            take: this.take,
            seq: this.seq,
            fresh,
            loading: this.loading,
            error: this.error,
        };
    }

    protected forget(): void {
        this.items = [];
        this.total = 0;
    }

    protected async read(): Promise<void> {
        let page: Page<T["record"]>;
        let seq = this.seq;
        const ws = this.host.ws;
        if (this.live && ws !== null) {
            const answer = await ws.request(this.model.name, "list", this.params);
            page = decodePage(this.model, answer.data);
            seq = answer.seq;
        } else {
            page = decodePage(this.model, await this.host.http.list(this.model.route, this.params));
        }
        this.items = page.items;
        this.total = page.total;
        this.skip = page.skip;
        this.take = page.take;
        this.seq = seq;
    }

    private matches(record: T["record"]): boolean {
        const filter = this.query.where;
        return filter === undefined || filter === null || this.model.truth(filter, record) === true;
    }

    private sort(): void {
        const keys = this.query.orderBy ?? [];
        this.items.sort((a, b) => this.model.compare(keys, a, b));
    }

    protected apply(seq: number, kind: ChangeKind, id: string, data: unknown): void {
        this.seq = seq;
        let record: T["record"];
        try {
            record = decodeRecord(this.model, data);
        } catch {
            this.needsRefetch = true;
            return;
        }
        const position = this.items.findIndex((r) => idString(this.model, r) === id);
        // The page holds every matching row: a row outside it did not match.
        const complete = this.skip === 0 && this.total === this.items.length;
        const full = this.items.length >= this.take;
        const matches = kind !== "deleted" && this.matches(record);
        if (position >= 0 && matches) {
            this.items[position] = record;
            this.sort();
            const at = Math.max(0, this.items.findIndex((r) => idString(this.model, r) === id));
            // Moved to an edge of the page: a row of a neighbouring page may belong before or after it.
            const last = Math.max(0, this.items.length - 1);
            if (!complete && ((this.skip > 0 && at === 0) || (full && at === last))) {
                this.needsRefetch = true;
            }
        } else if (position >= 0) {
            this.items.splice(position, 1);
            this.total -= 1;
            if (!complete) {
                this.needsRefetch = true; // a row of the next page moves up
            }
        } else if (matches && (kind === "created" || complete)) {
            // New to the result: counted, and placed if it sorts into the page.
            this.total += 1;
            if (this.skip > 0) {
                this.needsRefetch = true;
            } else {
                this.items.push(record);
                this.sort();
                this.items.length = Math.min(this.items.length, Math.max(0, this.take));
            }
        } else if (matches) {
            this.needsRefetch = true; // changed outside the page: was it counted, where does it go?
        } else if (complete || kind === "created") {
            // Not in the result before or after.
        } else if (kind === "deleted") {
            if (this.matches(record)) {
                this.total -= 1;
                if (this.skip > 0) {
                    this.needsRefetch = true;
                }
            }
        } else {
            this.needsRefetch = true; // it may have left the result
        }
    }
}

/** One row kept current through its item channel. Call `close()` when done with it. */
export class LiveItem<T extends ModelTypes> extends LiveQuery<T, LiveItemSnapshot<T["record"]>> {
    private item: T["record"] | null = null;

    constructor(host: LiveHost, model: ModelSpec<T>, private readonly id: string) {
        super(host, model, model.itemChannelPrefix === null ? null : `${model.itemChannelPrefix}${id}`, {
            item: null,
            seq: 0,
            fresh: false,
            loading: true,
            error: null,
        });
    }

    protected snapshotNow(fresh: boolean): LiveItemSnapshot<T["record"]> {
        return { item: this.item, seq: this.seq, fresh, loading: this.loading, error: this.error };
    }

    protected forget(): void {
        this.item = null;
    }

    protected async read(): Promise<void> {
        const ws = this.host.ws;
        if (this.live && ws !== null) {
            const answer = await ws.request(this.model.name, "get", { id: this.id });
            this.item = decodeRecord(this.model, answer.data);
            this.seq = Math.max(this.seq, answer.seq);
        } else {
            this.item = decodeRecord(this.model, await this.host.http.get(this.model.route, this.id));
        }
    }

    protected apply(seq: number, kind: ChangeKind, _id: string, data: unknown): void {
        this.seq = seq;
        if (kind === "deleted") {
            this.item = null;
            this.error = new RequestError({ code: "not_found", message: `the ${this.model.name} was deleted` });
            return;
        }
        try {
            this.item = decodeRecord(this.model, data);
            this.error = null;
        } catch {
            this.needsRefetch = true;
        }
    }
}

/** A query as the REST list's parameters and the WebSocket `request`'s `params` (absent parts left out). */
export function queryParams(query: Query<unknown, unknown>): { [key: string]: unknown } {
    const params: { [key: string]: unknown } = {};
    if (query.where !== undefined && query.where !== null) {
        params.where = query.where;
    }
    if (query.orderBy !== undefined && query.orderBy.length > 0) {
        params.orderBy = query.orderBy;
    }
    if (query.skip !== undefined) {
        params.skip = query.skip;
    }
    if (query.take !== undefined) {
        params.take = query.take;
    }
    return params;
}
