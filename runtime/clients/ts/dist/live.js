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
import { decodePage, decodeRecord, idString } from "./model.js";
/** Something that changes and says so: what `useSyncExternalStore` and UIs subscribe to. */
class Observable {
    current;
    listeners = new Set();
    constructor(current) {
        this.current = current;
    }
    /** The current snapshot (the same object until it changes). */
    snapshot() {
        return this.current;
    }
    /** Calls `listener` with each new snapshot; returns the function that stops it. */
    subscribe(listener) {
        this.listeners.add(listener);
        return () => this.listeners.delete(listener);
    }
    /** Waits for the first snapshot that satisfies `test`; rejects with `TimeoutError` after `waitMs`. */
    when(test, waitMs) {
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
    publish(next) {
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
class LiveQuery extends Observable {
    host;
    model;
    seq = 0;
    fresh = false;
    loading = true;
    error = null;
    /** What is held cannot be known to be right (a change that could not be applied, a gap): read it again. */
    needsRefetch = true;
    /** Stopped for good: the subscription was refused, or the query cannot be read. */
    halted = false;
    closed = false;
    queue = [];
    running = false;
    retryTimer = null;
    stops = [];
    constructor(host, model, channel, initial) {
        super(initial);
        this.host = host;
        this.model = model;
        this.live = host.ws !== null && channel !== null;
        if (host.ws !== null && channel !== null) {
            // Listen first: every event after the read's sequence number is then in the queue.
            this.stops.push(host.ws.listen(channel, (event) => this.receive(event)));
        }
        else {
            // Not live: read over HTTP, and again after each of this client's own writes to the model.
            this.stops.push(host.onWrite(model.name, () => this.markStale()));
        }
        this.schedule();
    }
    /** Whether events keep this current (the model is realtime and the client has a socket). */
    live;
    /** Waits for the first read (or the error that prevented it). */
    loaded(waitMs) {
        return this.when(() => !this.loading, waitMs);
    }
    /** Stops the updates (and, for the last listener of its channel on this client, the subscription). */
    close() {
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
    whenClosed(stop) {
        if (this.closed) {
            stop();
        }
        else {
            this.stops.push(stop);
        }
    }
    receive(event) {
        this.queue.push(event);
        this.schedule();
    }
    markStale() {
        this.needsRefetch = true;
        this.schedule();
    }
    schedule() {
        if (!this.running && !this.closed && !this.halted) {
            this.running = true;
            queueMicrotask(() => void this.run());
        }
    }
    async run() {
        try {
            for (;;) {
                while (this.queue.length > 0 && !this.closed && !this.halted) {
                    this.handle(this.queue.shift());
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
        }
        finally {
            this.running = false;
        }
        if (!this.closed) {
            this.publish(this.snapshotNow(this.fresh && !this.needsRefetch && this.live));
            if (this.queue.length > 0) {
                this.schedule();
            }
        }
    }
    handle(event) {
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
                }
                else if (!this.needsRefetch) {
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
    async refetch() {
        try {
            await this.read();
            this.error = null;
            this.fresh = true;
            this.loading = false;
            this.needsRefetch = false;
            return true;
        }
        catch (caught) {
            const error = caught instanceof ClientError ? caught : new ProtocolError(String(caught));
            this.fresh = false;
            if (error instanceof RequestError || error instanceof ProtocolError) {
                // The query itself is refused (a bad filter, no access, no such row): it would fail again.
                this.forget();
                this.error = error;
                this.halt();
            }
            else if (!this.live) {
                // Over HTTP: report it; the next own write reads again.
                this.error = error;
                this.loading = false;
                this.needsRefetch = false;
            }
            else if (error instanceof TimeoutError) {
                // The socket is up but the answer is late: try again shortly.
                this.retryTimer = setTimeout(() => this.markStale(), 1000);
            }
            // Disconnected: the resubscription's `subscribed` brings us back here.
            return false;
        }
    }
    halt() {
        this.halted = true;
        this.loading = false;
        this.fresh = false;
        this.needsRefetch = false;
        this.queue.length = 0;
    }
}
/** A live page of a model's query. Call `close()` when done with it. */
export class LiveList extends LiveQuery {
    query;
    items = [];
    total = 0;
    skip = 0;
    take = 0;
    params;
    constructor(host, model, query) {
        super(host, model, model.listChannel, { items: [], total: 0, skip: 0, take: 0, seq: 0, fresh: false, loading: true, error: null });
        this.query = query;
        this.params = queryParams(query);
    }
    /** Waits until the list reflects the event `seq` (for example a write's `Event-Seq`) and is fresh. */
    reflecting(seq, waitMs) {
        return this.when((s) => s.fresh && s.seq >= seq, waitMs);
    }
    snapshotNow(fresh) {
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
    forget() {
        this.items = [];
        this.total = 0;
    }
    async read() {
        let page;
        let seq = this.seq;
        const ws = this.host.ws;
        if (this.live && ws !== null) {
            const answer = await ws.request(this.model.name, "list", this.params);
            page = decodePage(this.model, answer.data);
            seq = answer.seq;
        }
        else {
            page = decodePage(this.model, await this.host.http.list(this.model.route, this.params));
        }
        this.items = page.items;
        this.total = page.total;
        this.skip = page.skip;
        this.take = page.take;
        this.seq = seq;
    }
    matches(record) {
        const filter = this.query.where;
        return filter === undefined || filter === null || this.model.truth(filter, record) === true;
    }
    sort() {
        const keys = this.query.orderBy ?? [];
        this.items.sort((a, b) => this.model.compare(keys, a, b));
    }
    apply(seq, kind, id, data) {
        this.seq = seq;
        let record;
        try {
            record = decodeRecord(this.model, data);
        }
        catch {
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
        }
        else if (position >= 0) {
            this.items.splice(position, 1);
            this.total -= 1;
            if (!complete) {
                this.needsRefetch = true; // a row of the next page moves up
            }
        }
        else if (matches && (kind === "created" || complete)) {
            // New to the result: counted, and placed if it sorts into the page.
            this.total += 1;
            if (this.skip > 0) {
                this.needsRefetch = true;
            }
            else {
                this.items.push(record);
                this.sort();
                this.items.length = Math.min(this.items.length, Math.max(0, this.take));
            }
        }
        else if (matches) {
            this.needsRefetch = true; // changed outside the page: was it counted, where does it go?
        }
        else if (complete || kind === "created") {
            // Not in the result before or after.
        }
        else if (kind === "deleted") {
            if (this.matches(record)) {
                this.total -= 1;
                if (this.skip > 0) {
                    this.needsRefetch = true;
                }
            }
        }
        else {
            this.needsRefetch = true; // it may have left the result
        }
    }
}
/** One row kept current through its item channel. Call `close()` when done with it. */
export class LiveItem extends LiveQuery {
    id;
    item = null;
    constructor(host, model, id) {
        super(host, model, model.itemChannelPrefix === null ? null : `${model.itemChannelPrefix}${id}`, {
            item: null,
            seq: 0,
            fresh: false,
            loading: true,
            error: null,
        });
        this.id = id;
    }
    snapshotNow(fresh) {
        return { item: this.item, seq: this.seq, fresh, loading: this.loading, error: this.error };
    }
    forget() {
        this.item = null;
    }
    async read() {
        const ws = this.host.ws;
        if (this.live && ws !== null) {
            const answer = await ws.request(this.model.name, "get", { id: this.id });
            this.item = decodeRecord(this.model, answer.data);
            this.seq = Math.max(this.seq, answer.seq);
        }
        else {
            this.item = decodeRecord(this.model, await this.host.http.get(this.model.route, this.id));
        }
    }
    apply(seq, kind, _id, data) {
        this.seq = seq;
        if (kind === "deleted") {
            this.item = null;
            this.error = new RequestError({ code: "not_found", message: `the ${this.model.name} was deleted` });
            return;
        }
        try {
            this.item = decodeRecord(this.model, data);
            this.error = null;
        }
        catch {
            this.needsRefetch = true;
        }
    }
}
/** A query as the REST list's parameters and the WebSocket `request`'s `params` (absent parts left out). */
export function queryParams(query) {
    const params = {};
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
