// The hybrid client: reads from a live list of the same query when it holds one that reflects the caller's last
// write, else over HTTP; writes over HTTP; keeps one WebSocket for every live list and item.
import {} from "./backoff.js";
import { ProtocolError } from "./errors.js";
import { followedChannels } from "./follow.js";
import { HttpTransport } from "./http.js";
import { LiveItem, LiveList, queryParams } from "./live.js";
import { decodeIncludedPage, decodeIncludedRecord, decodePage, decodeRecord, } from "./model.js";
import { followsRelations } from "./query.js";
import { WsTransport } from "./ws.js";
import { encodeJson } from "./wire.js";
/** The hybrid client of one server. Models are reached through `resource(spec)` (the generated `createClient` does it). */
export class Client {
    http;
    ws;
    timeoutMs;
    readYourWritesMs;
    /** The highest `Event-Seq` of this client's writes: cached reads wait for it (read-your-writes). */
    lastWrite = 0;
    writeListeners = new Map();
    /** Live lists by model and query, for reads served from them. */
    lives = new Map();
    constructor(options) {
        const token = options.token;
        const provider = typeof token === "function" ? token : () => token ?? null;
        this.timeoutMs = options.timeoutMs ?? 10_000;
        this.readYourWritesMs = options.readYourWritesMs ?? 2000;
        this.http = new HttpTransport({ url: options.url, token: provider, timeoutMs: this.timeoutMs, fetch: options.fetch });
        this.ws =
            options.realtime === false
                ? null
                : new WsTransport({
                    url: options.url,
                    token: provider,
                    timeoutMs: this.timeoutMs,
                    backoff: options.backoff,
                    auth: options.auth,
                    random: options.random,
                    WebSocket: options.WebSocket,
                });
    }
    /** The typed operations of one model. */
    resource(model) {
        return new Resource(this, model);
    }
    /** The socket's state (`offline` without realtime). */
    get connection() {
        return this.ws === null ? { status: "offline" } : this.ws.state;
    }
    /** Calls `listener` on every change of the socket's state; returns the function that stops it. */
    onConnection(listener) {
        return this.ws === null ? () => undefined : this.ws.onState(listener);
    }
    /** Closes the socket for good (no reconnect); HTTP still works. */
    close() {
        this.ws?.close();
    }
    onWrite(model, listener) {
        let listeners = this.writeListeners.get(model);
        if (listeners === undefined) {
            listeners = new Set();
            this.writeListeners.set(model, listeners);
        }
        const own = () => listener();
        listeners.add(own);
        return () => listeners.delete(own);
    }
    /** Records a write's sequence number and tells the model's non-live lists. */
    wrote(model, seq) {
        if (seq !== null && seq > this.lastWrite) {
            this.lastWrite = seq;
        }
        for (const listener of [...(this.writeListeners.get(model) ?? [])]) {
            listener();
        }
    }
    /**
     * A live list of `query`, registered so that `list` of the same query can be served from it. A query that
     * filters through a relation is read again after each change of its model or of a model it filters through.
     */
    live(model, query) {
        // A change to a related row arrives on another channel, and a changed record alone cannot tell whether it
        // still matches: such a list follows those channels too, and reads its page again on changes.
        const following = followsRelations(query.where, model.relations)
            ? { include: null, related: followedChannels(model.relations, query.where, null) }
            : null;
        const live = new LiveList(this, model, query, following);
        if (live.live) {
            const key = liveKey(model.name, query);
            let set = this.lives.get(key);
            if (set === undefined) {
                set = new Set();
                this.lives.set(key, set);
            }
            const entries = set;
            const registered = live;
            entries.add(registered);
            live.whenClosed(() => {
                entries.delete(registered);
                if (entries.size === 0 && this.lives.get(key) === entries) {
                    this.lives.delete(key);
                }
            });
        }
        return live;
    }
    /**
     * A live list of `query` with the related rows `include` names: read again after each change of its model or
     * of a model it includes or filters through. Throws `ProtocolError` for a relation to a model without realtime.
     */
    liveIncluding(model, query, include) {
        const related = followedChannels(model.relations, query.where, include);
        return new LiveList(this, model, query, { include: includeParam(include), related });
    }
    /** A page from a live list of this exact query, once it reflects this client's writes; `null` if none can. */
    async cached(model, query) {
        if (this.ws === null || !this.ws.connected) {
            return null; // only while the socket is up; otherwise the read goes over HTTP
        }
        for (const live of this.lives.get(liveKey(model.name, query)) ?? []) {
            if (!live.snapshot().fresh) {
                continue;
            }
            try {
                const snapshot = await live.reflecting(this.lastWrite, this.readYourWritesMs);
                return { items: snapshot.items.slice(), total: snapshot.total, skip: snapshot.skip, take: snapshot.take };
            }
            catch {
                return null;
            }
        }
        return null;
    }
}
/** The typed operations of one model: `list`, `get`, `create`, `update` (PUT), `patch`, `delete`, `live`,
 * `liveIncluding`, `item`. */
export class Resource {
    client;
    model;
    constructor(client, model) {
        this.client = client;
        this.model = model;
    }
    /**
     * A page of rows: from a live list of this exact query when the client holds one (once it reflects this
     * client's own writes), otherwise over HTTP.
     */
    async list(query = {}) {
        const cached = await this.client.cached(this.model, query);
        if (cached !== null) {
            return cached;
        }
        return decodePage(this.model, await this.client.http.list(this.model.route, queryParams(query)));
    }
    /** One row; `HttpError` 404 (`not_found`) when it does not exist or the caller may not read it. */
    async get(id) {
        return decodeRecord(this.model, await this.client.http.get(this.model.route, String(id)));
    }
    /**
     * A page of rows with the related rows `include` names (`"author,room"`, `"room.owner"`, or the object form
     * with a to-many's own `where`, `orderBy` and `take`: docs/rest.md), as the typed fields of the model's
     * `WithRelations` type. Always over HTTP; `liveIncluding` keeps such a page live.
     */
    async listIncluding(query, include) {
        const params = { ...queryParams(query), include: includeParam(include) };
        return decodeIncludedPage(this.model, await this.client.http.list(this.model.route, params));
    }
    /** One row with the related rows `include` names, as in `listIncluding`. */
    async getIncluding(id, include) {
        const raw = await this.client.http.get(this.model.route, String(id), includeParam(include));
        return decodeIncludedRecord(this.model, raw);
    }
    async create(input) {
        return this.written(await this.client.http.create(this.model.route, input));
    }
    /** Replaces every writable field (`PUT`). */
    async update(id, input) {
        return this.written(await this.client.http.update(this.model.route, String(id), input));
    }
    /** Changes some writable fields (`PATCH`); `null` clears an optional one. */
    async patch(id, input) {
        return this.written(await this.client.http.patch(this.model.route, String(id), input));
    }
    async delete(id) {
        const written = await this.client.http.delete(this.model.route, String(id));
        this.client.wrote(this.model.name, written.seq);
    }
    /**
     * A live page of `query`: kept equal to the server's answer while the socket is up (see `LiveList`). Without
     * realtime (or for a model with `realtime: false`) it is read over HTTP, and again after this client's writes.
     * A filter through a relation (`{ author: { is: { name: { equals: "ada" } } } }`) makes it read its page again
     * after each change of its model or of a model it filters through, as `liveIncluding` does.
     */
    live(query = {}) {
        return this.client.live(this.model, query);
    }
    /**
     * A live page of `query` with the related rows `include` names, as in `listIncluding`: read again over the
     * socket after each committed change of its model or of a model it includes or filters through (one read per
     * batch of changes), so a rename of a user shows in every message that includes them. Every model it reads
     * through must be realtime (else `ProtocolError`, naming the relation).
     */
    liveIncluding(query, include) {
        return this.client.liveIncluding(this.model, query, include);
    }
    /** One row kept current through its item channel. */
    item(id) {
        return new LiveItem(this.client, this.model, String(id));
    }
    written(answer) {
        if (answer.body === undefined) {
            throw new ProtocolError(`an empty answer for a ${this.model.name} write`);
        }
        const record = decodeRecord(this.model, answer.body);
        this.client.wrote(this.model.name, answer.seq);
        return record;
    }
}
function liveKey(model, query) {
    return `${model} ${encodeJson(queryParams(query))}`;
}
/** `include` as the query parameter: the text as it is, the object form as JSON. */
function includeParam(include) {
    return typeof include === "string" ? include : encodeJson(include);
}
