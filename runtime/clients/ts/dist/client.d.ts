import { type Backoff } from "./backoff.js";
import { HttpTransport, type TokenProvider } from "./http.js";
import { LiveItem, LiveList, type LiveHost } from "./live.js";
import { type ModelSpec, type ModelTypes, type Page } from "./model.js";
import { type Query } from "./query.js";
import { type ConnectionState, type WebSocketConstructor, WsTransport } from "./ws.js";
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
export declare class Client implements LiveHost {
    readonly http: HttpTransport;
    readonly ws: WsTransport | null;
    private readonly timeoutMs;
    private readonly readYourWritesMs;
    /** The highest `Event-Seq` of this client's writes: cached reads wait for it (read-your-writes). */
    private lastWrite;
    private readonly writeListeners;
    /** Live lists by model and query, for reads served from them. */
    private readonly lives;
    constructor(options: ClientOptions);
    /** The typed operations of one model. */
    resource<T extends ModelTypes>(model: ModelSpec<T>): Resource<T>;
    /** The socket's state (`offline` without realtime). */
    get connection(): ConnectionState;
    /** Calls `listener` on every change of the socket's state; returns the function that stops it. */
    onConnection(listener: (state: ConnectionState) => void): () => void;
    /** Closes the socket for good (no reconnect); HTTP still works. */
    close(): void;
    onWrite(model: string, listener: () => void): () => void;
    /** Records a write's sequence number and tells the model's non-live lists. */
    wrote(model: string, seq: number | null): void;
    /**
     * A live list of `query`, registered so that `list` of the same query can be served from it. A query that
     * filters through a relation is read again after each change of its model or of a model it filters through.
     */
    live<T extends ModelTypes>(model: ModelSpec<T>, query: Query<T["filter"], T["orderBy"]>): LiveList<T>;
    /**
     * A live list of `query` with the related rows `include` names: read again after each change of its model or
     * of a model it includes or filters through. Throws `ProtocolError` for a relation to a model without realtime.
     */
    liveIncluding<T extends ModelTypes>(model: ModelSpec<T>, query: Query<T["filter"], T["orderBy"]>, include: Include): LiveList<T, T["withRelations"]>;
    /** A page from a live list of this exact query, once it reflects this client's writes; `null` if none can. */
    cached<T extends ModelTypes>(model: ModelSpec<T>, query: Query<T["filter"], T["orderBy"]>): Promise<Page<T["record"]> | null>;
}
/** The resource of a model spec: `ResourceOf<typeof messageModel>`. */
export type ResourceOf<S> = S extends ModelSpec<infer T> ? Resource<T> : never;
/** The typed operations of one model: `list`, `get`, `create`, `update` (PUT), `patch`, `delete`, `live`,
 * `liveIncluding`, `item`. */
export declare class Resource<T extends ModelTypes> {
    readonly client: Client;
    readonly model: ModelSpec<T>;
    constructor(client: Client, model: ModelSpec<T>);
    /**
     * A page of rows: from a live list of this exact query when the client holds one (once it reflects this
     * client's own writes), otherwise over HTTP.
     */
    list(query?: Query<T["filter"], T["orderBy"]>): Promise<Page<T["record"]>>;
    /** One row; `HttpError` 404 (`not_found`) when it does not exist or the caller may not read it. */
    get(id: T["id"]): Promise<T["record"]>;
    /**
     * A page of rows with the related rows `include` names (`"author,room"`, `"room.owner"`, or the object form
     * with a to-many's own `where`, `orderBy` and `take`: docs/rest.md), as the typed fields of the model's
     * `WithRelations` type. Always over HTTP; `liveIncluding` keeps such a page live.
     */
    listIncluding(query: Query<T["filter"], T["orderBy"]>, include: Include): Promise<Page<T["withRelations"]>>;
    /** One row with the related rows `include` names, as in `listIncluding`. */
    getIncluding(id: T["id"], include: Include): Promise<T["withRelations"]>;
    create(input: T["create"]): Promise<T["record"]>;
    /** Replaces every writable field (`PUT`). */
    update(id: T["id"], input: T["update"]): Promise<T["record"]>;
    /** Changes some writable fields (`PATCH`); `null` clears an optional one. */
    patch(id: T["id"], input: T["patch"]): Promise<T["record"]>;
    delete(id: T["id"]): Promise<void>;
    /**
     * A live page of `query`: kept equal to the server's answer while the socket is up (see `LiveList`). Without
     * realtime (or for a model with `realtime: false`) it is read over HTTP, and again after this client's writes.
     * A filter through a relation (`{ author: { is: { name: { equals: "ada" } } } }`) makes it read its page again
     * after each change of its model or of a model it filters through, as `liveIncluding` does.
     */
    live(query?: Query<T["filter"], T["orderBy"]>): LiveList<T>;
    /**
     * A live page of `query` with the related rows `include` names, as in `listIncluding`: read again over the
     * socket after each committed change of its model or of a model it includes or filters through (one read per
     * batch of changes), so a rename of a user shows in every message that includes them. Every model it reads
     * through must be realtime (else `ProtocolError`, naming the relation).
     */
    liveIncluding(query: Query<T["filter"], T["orderBy"]>, include: Include): LiveList<T, T["withRelations"]>;
    /** One row kept current through its item channel. */
    item(id: T["id"]): LiveItem<T>;
    private written;
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
