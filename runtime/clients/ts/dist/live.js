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
// A query that reads through relations (an `include`, or a relation filter in its `where`) is followed another way:
// a changed row of the list's model or of a model it reads through cannot be applied in memory (an event carries the
// row, not its relations or the rows that point to it), so the list listens to every one of those models' channels
// (`follow.ts`) and reads its page again after any event newer than the page, one read per batch of events.
import { ClientError, ProtocolError, RequestError, TimeoutError } from "./errors.js";
import { decodeIncludedPage, decodePage, decodeRecord, idString } from "./model.js";
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
    /** Events, each with whether it came on the own channel (not a related one). */
    queue = [];
    running = false;
    retryTimer = null;
    stops = [];
    /**
     * `channel` is what is held's own channel; `related` (model name to list channel) the other models it reads
     * through, whose events only mean "read again".
     */
    constructor(host, model, channel, initial, related = new Map()) {
        super(initial);
        this.host = host;
        this.model = model;
        this.live = host.ws !== null && channel !== null;
        if (host.ws !== null && channel !== null) {
            // Listen first: every event after the read's sequence number is then in the queue.
            const ws = host.ws;
            this.stops.push(ws.listen(channel, (event) => this.receive(event, true)));
            for (const other of new Set(related.values())) {
                if (other !== channel) {
                    this.stops.push(ws.listen(other, (event) => this.receive(event, false)));
                }
            }
        }
        else {
            // Not live: read over HTTP, and again after each of this client's own writes to the model (or to a
            // model it reads through).
            for (const name of new Set([model.name, ...related.keys()])) {
                this.stops.push(host.onWrite(name, () => this.markStale()));
            }
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
    /** A channel is (again) subscribed from `seq`: `resumed` false when events were missed. */
    subscribed(_seq, resumed) {
        if (!resumed) {
            this.needsRefetch = true;
        }
        else if (!this.needsRefetch) {
            this.fresh = true;
        }
    }
    receive(event, own) {
        this.queue.push([event, own]);
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
                    const [event, own] = this.queue.shift();
                    this.handle(event, own);
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
    handle(event, own) {
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
                this.subscribed(event.seq, event.resumed);
                break;
            case "refused":
                if (!own) {
                    // A related model the caller may not read never shows in the page (its rows are `null` or left
                    // out, and filters do not see them): nothing to follow there.
                    break;
                }
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
/**
 * A live page of a model's query: its records (`R` = the record type), or, for `liveIncluding`, its records with
 * the related rows the include names (`R` = `<Model>WithRelations`). Call `close()` when done with it.
 */
export class LiveList extends LiveQuery {
    query;
    following;
    items = [];
    total = 0;
    skip = 0;
    take = 0;
    params;
    /** `following`: the query reads through relations, and the page is read again on changes instead of changed. */
    constructor(host, model, query, following = null) {
        super(host, model, model.listChannel, { items: [], total: 0, skip: 0, take: 0, seq: 0, fresh: false, loading: true, error: null }, following?.related);
        this.query = query;
        this.following = following;
        this.params = queryParams(query);
        if (following !== null && following.include !== null) {
            this.params.include = following.include;
        }
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
        let raw;
        let seq = this.seq;
        const ws = this.host.ws;
        if (this.live && ws !== null) {
            const answer = await ws.request(this.model.name, "list", this.params);
            raw = answer.data;
            seq = answer.seq;
        }
        else {
            raw = await this.host.http.list(this.model.route, this.params);
        }
        const page = (this.following?.include ? decodeIncludedPage(this.model, raw) : decodePage(this.model, raw));
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
    /** The page's records, where they are plain records (the list does not follow relations). */
    get records() {
        return this.items;
    }
    sort() {
        const keys = this.query.orderBy ?? [];
        this.records.sort((a, b) => this.model.compare(keys, a, b));
    }
    subscribed(seq, resumed) {
        if (this.following === null) {
            super.subscribed(seq, resumed);
        }
        else if (!this.fresh || (!resumed && seq > this.seq)) {
            // Back after a drop: whatever was replayed or missed on any of its channels, one read brings the page
            // up to date. A first subscription starts before the first read (same socket, in order): no change.
            this.needsRefetch = true;
        }
    }
    apply(seq, kind, id, data) {
        if (this.following !== null) {
            // A change newer than the page, here or in a model it reads through: read the page again (once for all
            // the events queued). The page's sequence number is the read's.
            this.needsRefetch = true;
            return;
        }
        this.seq = seq;
        const records = this.records;
        let record;
        try {
            record = decodeRecord(this.model, data);
        }
        catch {
            this.needsRefetch = true;
            return;
        }
        const position = records.findIndex((r) => idString(this.model, r) === id);
        // The page holds every matching row: a row outside it did not match.
        const complete = this.skip === 0 && this.total === records.length;
        const full = records.length >= this.take;
        const matches = kind !== "deleted" && this.matches(record);
        if (position >= 0 && matches) {
            records[position] = record;
            this.sort();
            const at = Math.max(0, records.findIndex((r) => idString(this.model, r) === id));
            // Moved to an edge of the page: a row of a neighbouring page may belong before or after it.
            const last = Math.max(0, records.length - 1);
            if (!complete && ((this.skip > 0 && at === 0) || (full && at === last))) {
                this.needsRefetch = true;
            }
        }
        else if (position >= 0) {
            records.splice(position, 1);
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
                records.push(record);
                this.sort();
                records.length = Math.min(records.length, Math.max(0, this.take));
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
