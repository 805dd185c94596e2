// The hybrid client: reads from a live list of the same query when it holds one that reflects the caller's last
// write, else over HTTP; writes over HTTP; keeps one WebSocket for every live list and item.

import { type Backoff } from "./backoff.js";
import { ProtocolError } from "./errors.js";
import { followedChannels } from "./follow.js";
import { HttpTransport, type TokenProvider } from "./http.js";
import { LiveItem, LiveList, type LiveHost, queryParams } from "./live.js";
import {
    type ModelSpec,
    type ModelTypes,
    type Page,
    decodeIncludedPage,
    decodeIncludedRecord,
    decodePage,
    decodeRecord,
} from "./model.js";
import { type Query, followsRelations } from "./query.js";
import { type ConnectionState, type WebSocketConstructor, WsTransport } from "./ws.js";
import { encodeJson } from "./wire.js";

export interface ClientOptions {
    /** The server's base URL (`http://127.0.0.1:8080`; in a page served by the server itself, `location.origin`). */
    url: string;
    /** The token (a JWT), or a function asked for one at every connect and request, so that it can refresh. */
    token?: string | TokenProvider | null;
    /** Open the WebSocket: live lists, and reads served from them. Default true. */
    realtime?: boolean;
    /** Time allowed for each request, HTTP or WebSocket. Default 10 000 ms. */
    timeoutMs?: number;
    /** Reconnection delays. Default: 100 ms doubling up to 10 s, with full jitter. */
    backoff?: Backoff;
    /** How the socket sends the token: the subprotocol `bearer.<token>` (default) or a first `auth` frame. */
    auth?: "subprotocol" | "frame";
    /** How long a read served from a live list waits for it to reflect this client's last write. Default 2000 ms. */
    readYourWritesMs?: number;
    /** A random number in [0, 1), for the reconnection jitter. Default `Math.random`. */
    random?: () => number;
    /** `fetch`; default the global one. */
    fetch?: typeof fetch;
    /** The WebSocket class; default the global one (Node 20: `node --experimental-websocket`). */
    WebSocket?: WebSocketConstructor;
}

/** The hybrid client of one server. Models are reached through `resource(spec)` (the generated `createClient` does it). */
export class Client implements LiveHost {
    readonly http: HttpTransport;
    readonly ws: WsTransport | null;
    private readonly timeoutMs: number;
    private readonly readYourWritesMs: number;
    /** The highest `Event-Seq` of this client's writes: cached reads wait for it (read-your-writes). */
    private lastWrite = 0;
    private readonly writeListeners = new Map<string, Set<() => void>>();
    /** Live lists by model and query, for reads served from them. */
    private readonly lives = new Map<string, Set<LiveList<ModelTypes>>>();

    constructor(options: ClientOptions) {
        const token = options.token;
        const provider: TokenProvider = typeof token === "function" ? token : () => token ?? null;
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
    resource<T extends ModelTypes>(model: ModelSpec<T>): Resource<T> {
        return new Resource(this, model);
    }

    /** The socket's state (`offline` without realtime). */
    get connection(): ConnectionState {
        return this.ws === null ? { status: "offline" } : this.ws.state;
    }

    /** Calls `listener` on every change of the socket's state; returns the function that stops it. */
    onConnection(listener: (state: ConnectionState) => void): () => void {
        return this.ws === null ? () => undefined : this.ws.onState(listener);
    }

    /** Closes the socket for good (no reconnect); HTTP still works. */
    close(): void {
        this.ws?.close();
    }

    onWrite(model: string, listener: () => void): () => void {
        let listeners = this.writeListeners.get(model);
        if (listeners === undefined) {
            listeners = new Set();
            this.writeListeners.set(model, listeners);
        }
        const own = (): void => listener();
        listeners.add(own);
        return () => listeners.delete(own);
    }

    /** Records a write's sequence number and tells the model's non-live lists. */
    wrote(model: string, seq: number | null): void {
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
    live<T extends ModelTypes>(model: ModelSpec<T>, query: Query<T["filter"], T["orderBy"]>): LiveList<T> {
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
            const registered = live as unknown as LiveList<ModelTypes>;
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
    liveIncluding<T extends ModelTypes>(
        model: ModelSpec<T>,
        query: Query<T["filter"], T["orderBy"]>,
        include: Include,
    ): LiveList<T, T["withRelations"]> {
        const related = followedChannels(model.relations, query.where, include);
        return new LiveList<T, T["withRelations"]>(this, model, query, { include: includeParam(include), related });
    }

    /** A page from a live list of this exact query, once it reflects this client's writes; `null` if none can. */
    async cached<T extends ModelTypes>(model: ModelSpec<T>, query: Query<T["filter"], T["orderBy"]>): Promise<Page<T["record"]> | null> {
        if (this.ws === null || !this.ws.connected) {
            return null; // only while the socket is up; otherwise the read goes over HTTP
        }
        for (const live of this.lives.get(liveKey(model.name, query)) ?? []) {
            if (!live.snapshot().fresh) {
                continue;
            }
            try {
                const snapshot = await live.reflecting(this.lastWrite, this.readYourWritesMs);
                return { items: snapshot.items.slice() as T["record"][], total: snapshot.total, skip: snapshot.skip, take: snapshot.take };
            } catch {
                return null;
            }
        }
        return null;
    }
}

/** The resource of a model spec: `ResourceOf<typeof messageModel>`. */
export type ResourceOf<S> = S extends ModelSpec<infer T> ? Resource<T> : never;

/** The typed operations of one model: `list`, `get`, `create`, `update` (PUT), `patch`, `delete`, `live`,
 * `liveIncluding`, `item`. */
export class Resource<T extends ModelTypes> {
    constructor(readonly client: Client, readonly model: ModelSpec<T>) {}

    /**
     * A page of rows: from a live list of this exact query when the client holds one (once it reflects this
     * client's own writes), otherwise over HTTP.
     */
    async list(query: Query<T["filter"], T["orderBy"]> = {}): Promise<Page<T["record"]>> {
        const cached = await this.client.cached(this.model, query);
        if (cached !== null) {
            return cached;
        }
        return decodePage(this.model, await this.client.http.list(this.model.route, queryParams(query)));
    }

    /** One row; `HttpError` 404 (`not_found`) when it does not exist or the caller may not read it. */
    async get(id: T["id"]): Promise<T["record"]> {
        return decodeRecord(this.model, await this.client.http.get(this.model.route, String(id)));
    }

    /**
     * A page of rows with the related rows `include` names (`"author,room"`, `"room.owner"`, or the object form
     * with a to-many's own `where`, `orderBy` and `take`: docs/rest.md), as the typed fields of the model's
     * `WithRelations` type. Always over HTTP; `liveIncluding` keeps such a page live.
     */
    async listIncluding(query: Query<T["filter"], T["orderBy"]>, include: Include): Promise<Page<T["withRelations"]>> {
        const params = { ...queryParams(query), include: includeParam(include) };
        return decodeIncludedPage(this.model, await this.client.http.list(this.model.route, params));
    }

    /** One row with the related rows `include` names, as in `listIncluding`. */
    async getIncluding(id: T["id"], include: Include): Promise<T["withRelations"]> {
        const raw = await this.client.http.get(this.model.route, String(id), includeParam(include));
        return decodeIncludedRecord(this.model, raw);
    }

    async create(input: T["create"]): Promise<T["record"]> {
        return this.written(await this.client.http.create(this.model.route, input));
    }

    /** Replaces every writable field (`PUT`). */
    async update(id: T["id"], input: T["update"]): Promise<T["record"]> {
        return this.written(await this.client.http.update(this.model.route, String(id), input));
    }

    /** Changes some writable fields (`PATCH`); `null` clears an optional one. */
    async patch(id: T["id"], input: T["patch"]): Promise<T["record"]> {
        return this.written(await this.client.http.patch(this.model.route, String(id), input));
    }

    async delete(id: T["id"]): Promise<void> {
        const written = await this.client.http.delete(this.model.route, String(id));
        this.client.wrote(this.model.name, written.seq);
    }

    /**
     * A live page of `query`: kept equal to the server's answer while the socket is up (see `LiveList`). Without
     * realtime (or for a model with `realtime: false`) it is read over HTTP, and again after this client's writes.
     * A filter through a relation (`{ author: { is: { name: { equals: "ada" } } } }`) makes it read its page again
     * after each change of its model or of a model it filters through, as `liveIncluding` does.
     */
    live(query: Query<T["filter"], T["orderBy"]> = {}): LiveList<T> {
        return this.client.live(this.model, query);
    }

    /**
     * A live page of `query` with the related rows `include` names, as in `listIncluding`: read again over the
     * socket after each committed change of its model or of a model it includes or filters through (one read per
     * batch of changes), so a rename of a user shows in every message that includes them. Every model it reads
     * through must be realtime (else `ProtocolError`, naming the relation).
     */
    liveIncluding(query: Query<T["filter"], T["orderBy"]>, include: Include): LiveList<T, T["withRelations"]> {
        return this.client.liveIncluding(this.model, query, include);
    }

    /** One row kept current through its item channel. */
    item(id: T["id"]): LiveItem<T> {
        return new LiveItem(this.client, this.model, String(id));
    }

    private written(answer: { body: unknown; seq: number | null }): T["record"] {
        if (answer.body === undefined) {
            throw new ProtocolError(`an empty answer for a ${this.model.name} write`);
        }
        const record = decodeRecord(this.model, answer.body);
        this.client.wrote(this.model.name, answer.seq);
        return record;
    }
}

function liveKey(model: string, query: Query<unknown, unknown>): string {
    return `${model} ${encodeJson(queryParams(query))}`;
}

/** What a read includes: relation names, comma-separated and dotted for nesting (`"author,room.owner"`), or the
 * object form (docs/rest.md). */
export type Include = string | IncludeObject;

/** The object form of `Include`: relation name to `true`, or to its options. */
export interface IncludeObject {
    readonly [relation: string]: true | IncludeOptions;
}

/** A relation's options in the object form: a to-many's own `where`, `orderBy` and `take`, and what it includes
 * in turn (the object form again). */
export interface IncludeOptions {
    where?: unknown;
    orderBy?: unknown;
    take?: number;
    include?: IncludeObject;
}

/** `include` as the query parameter: the text as it is, the object form as JSON. */
function includeParam(include: Include): string {
    return typeof include === "string" ? include : encodeJson(include);
}
