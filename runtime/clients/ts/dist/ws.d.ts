import { type Backoff } from "./backoff.js";
import { ClientError, type ErrorBody } from "./errors.js";
import type { TokenProvider } from "./http.js";
/** The change an `update` carries. */
export type ChangeKind = "created" | "updated" | "deleted";
/** What a channel's listener receives, in order. */
export type ChannelEvent = 
/** A committed change: `data` is the record as the REST API returns it (for `deleted`, as it was). */
{
    type: "update";
    seq: number;
    kind: ChangeKind;
    id: string;
    data: unknown;
}
/**
 * The subscription is (again) live from `seq`. `since`: the sequence number it resumed from (`null` for a first
 * subscription); `resumed: false`: events were missed and cannot be replayed, refetch what you hold.
 */
 | {
    type: "subscribed";
    seq: number;
    resumed: boolean;
    since: number | null;
}
/** The socket dropped; a resubscription follows when it is back. */
 | {
    type: "disconnected";
}
/** The server refused the subscription (no access, unknown channel); no more events follow. */
 | {
    type: "refused";
    error: ErrorBody;
};
/** Whether the socket is up, for a connection indicator. */
export type ConnectionState = {
    status: "connecting";
} | {
    status: "connected";
}
/** Waiting `delayMs` before the next attempt. */
 | {
    status: "reconnecting";
    attempt: number;
    delayMs: number;
}
/** No socket: realtime is off, or there is no token (the gateway needs one). Reads go over HTTP. */
 | {
    status: "offline";
}
/** Stopped for good: the token was refused, or `close()` was called. */
 | {
    status: "failed";
    error: ClientError;
};
/** The parts of the WebSocket API the transport uses (the browser's, or Node's global one). */
export interface WebSocketLike {
    readonly readyState: number;
    onopen: ((event: unknown) => void) | null;
    onmessage: ((event: {
        data: unknown;
    }) => void) | null;
    onclose: ((event: {
        code: number;
        reason: string;
    }) => void) | null;
    onerror: ((event: unknown) => void) | null;
    send(data: string): void;
    close(code?: number, reason?: string): void;
}
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;
export interface WsOptions {
    /** The server's base URL (`http://127.0.0.1:8080`); the socket goes to `<url>/ws` (http -> ws, https -> wss). */
    url: string;
    token: TokenProvider;
    timeoutMs: number;
    backoff?: Backoff;
    /** How the token is sent: as the subprotocol `bearer.<token>` (default) or as the first frame. */
    auth?: "subprotocol" | "frame";
    /** A random number in [0, 1) for the jitter (injected, so tests can fix it). */
    random?: () => number;
    WebSocket?: WebSocketConstructor;
}
/** Close codes of the gateway (docs/protocol.md). */
export declare const CLOSE_UNAUTHORIZED = 4401;
/** The WebSocket side of a client. */
export declare class WsTransport {
    private readonly options;
    private readonly url;
    private readonly WebSocket;
    private readonly backoff;
    private readonly random;
    private socket;
    /** The socket said `ready`: requests and subscriptions may be sent. */
    private ready;
    private current;
    private readonly stateListeners;
    private readonly channels;
    private readonly pending;
    private nextId;
    private attempt;
    /** The token provider was asked once more after a 4401. */
    private refreshed;
    private timer;
    /** Until `ready`: the end of the time the socket has to get there. */
    private handshake;
    private stopped;
    constructor(options: WsOptions);
    /** The connection's state now. */
    get state(): ConnectionState;
    get connected(): boolean;
    /** Calls `listener` on every change of the state; returns the function that stops it. */
    onState(listener: (state: ConnectionState) => void): () => void;
    /** Waits until connected (resolves), failed or offline (rejects with the reason), or `waitMs` passed. */
    waitConnected(waitMs: number): Promise<void>;
    /**
     * A `list` or `get` over the socket: the data and the sequence number it reflects. Fails at once when the
     * socket is down, when it drops before the answer, and with `TimeoutError` when no answer comes in time.
     */
    request(model: string, action: "list" | "get", params: unknown): Promise<{
        data: unknown;
        seq: number;
    }>;
    /**
     * Receives the events of `channel`, subscribing when this client is not subscribed yet (one server subscription
     * per channel, shared by every listener). Returns the function that stops listening; the last one to stop
     * unsubscribes.
     */
    listen(channel: string, listener: (event: ChannelEvent) => void): () => void;
    /** Drops the socket and connects again at once (a new token, say); subscriptions resume with `since`. */
    reconnect(): void;
    /** Closes the socket for good: no reconnect; pending requests fail with `ClosedError`. */
    close(): void;
    private setState;
    private clearTimer;
    private clearHandshake;
    private connect;
    /** One socket's end, however it is learnt (close, error before open, handshake timeout): once per socket. */
    private ended;
    /** The socket is gone: requests in flight fail now, not at their timeout; listeners hear of it. */
    private dropped;
    private retry;
    private stop;
    private notifyAll;
    private send;
    private receive;
    private deliver;
}
