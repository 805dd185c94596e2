// The WebSocket transport: one multiplexed socket per client that reconnects with exponential backoff and full
// jitter, resubscribes every channel with `since` (so nothing is missed), correlates requests with responses,
// fails pending requests at once when the socket drops, and stops for good on a refused token (4401) after asking
// the token provider once more. The protocol is docs/protocol.md of ssot-gen.

import { type Backoff, DEFAULT_BACKOFF, backoffDelay } from "./backoff.js";
import { AuthError, ClientError, ClosedError, DisconnectedError, ProtocolError, RequestError, TimeoutError, type ErrorBody, isErrorBody } from "./errors.js";
import type { TokenProvider } from "./http.js";
import { encodeJson } from "./wire.js";

/** The change an `update` carries. */
export type ChangeKind = "created" | "updated" | "deleted";

/** What a channel's listener receives, in order. */
export type ChannelEvent =
    /** A committed change: `data` is the record as the REST API returns it (for `deleted`, as it was). */
    | { type: "update"; seq: number; kind: ChangeKind; id: string; data: unknown }
    /**
     * The subscription is (again) live from `seq`. `since`: the sequence number it resumed from (`null` for a first
     * subscription); `resumed: false`: events were missed and cannot be replayed, refetch what you hold.
     */
    | { type: "subscribed"; seq: number; resumed: boolean; since: number | null }
    /** The socket dropped; a resubscription follows when it is back. */
    | { type: "disconnected" }
    /** The server refused the subscription (no access, unknown channel); no more events follow. */
    | { type: "refused"; error: ErrorBody };

/** Whether the socket is up, for a connection indicator. */
export type ConnectionState =
    | { status: "connecting" }
    | { status: "connected" }
    /** Waiting `delayMs` before the next attempt. */
    | { status: "reconnecting"; attempt: number; delayMs: number }
    /** No socket: realtime is off, or there is no token (the gateway needs one). Reads go over HTTP. */
    | { status: "offline" }
    /** Stopped for good: the token was refused, or `close()` was called. */
    | { status: "failed"; error: ClientError };

/** The parts of the WebSocket API the transport uses (the browser's, or Node's global one). */
export interface WebSocketLike {
    readonly readyState: number;
    onopen: ((event: unknown) => void) | null;
    onmessage: ((event: { data: unknown }) => void) | null;
    onclose: ((event: { code: number; reason: string }) => void) | null;
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
export const CLOSE_UNAUTHORIZED = 4401;
const OPEN = 1;
/** Characters a subprotocol name may hold (RFC 7230 `tchar`); other tokens go in the first frame. */
const SUBPROTOCOL_TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

interface Channel {
    /** The last sequence number received on it: the `since` of a resubscription. */
    seq: number | null;
    /** The `since` of the subscription last sent. */
    since: number | null;
    listeners: Set<(event: ChannelEvent) => void>;
}

interface Pending {
    resolve: (answer: { data: unknown; seq: number }) => void;
    reject: (error: ClientError) => void;
    timer: ReturnType<typeof setTimeout>;
}

/** The WebSocket side of a client. */
export class WsTransport {
    private readonly url: string;
    private readonly WebSocket: WebSocketConstructor;
    private readonly backoff: Backoff;
    private readonly random: () => number;
    private socket: WebSocketLike | null = null;
    /** The socket said `ready`: requests and subscriptions may be sent. */
    private ready = false;
    private current: ConnectionState = { status: "connecting" };
    private readonly stateListeners = new Set<(state: ConnectionState) => void>();
    private readonly channels = new Map<string, Channel>();
    private readonly pending = new Map<number, Pending>();
    private nextId = 0;
    private attempt = 0;
    /** The token provider was asked once more after a 4401. */
    private refreshed = false;
    private timer: ReturnType<typeof setTimeout> | null = null;
    /** Until `ready`: the end of the time the socket has to get there. */
    private handshake: ReturnType<typeof setTimeout> | null = null;
    private stopped = false;

    constructor(private readonly options: WsOptions) {
        this.url = `${options.url.replace(/\/+$/, "").replace(/^http/, "ws")}/ws`;
        const ctor = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
        if (ctor === undefined) {
            throw new ProtocolError("no WebSocket: pass one in the options (Node 20 needs --experimental-websocket)");
        }
        this.WebSocket = ctor;
        this.backoff = options.backoff ?? DEFAULT_BACKOFF;
        this.random = options.random ?? Math.random;
        void this.connect();
    }

    /** The connection's state now. */
    get state(): ConnectionState {
        return this.current;
    }

    get connected(): boolean {
        return this.current.status === "connected";
    }

    /** Calls `listener` on every change of the state; returns the function that stops it. */
    onState(listener: (state: ConnectionState) => void): () => void {
        this.stateListeners.add(listener);
        return () => this.stateListeners.delete(listener);
    }

    /** Waits until connected (resolves), failed or offline (rejects with the reason), or `waitMs` passed. */
    waitConnected(waitMs: number): Promise<void> {
        return new Promise((resolve, reject) => {
            const check = (state: ConnectionState): boolean => {
                if (state.status === "connected") {
                    resolve();
                } else if (state.status === "failed") {
                    reject(state.error);
                } else if (state.status === "offline") {
                    reject(new DisconnectedError());
                } else {
                    return false;
                }
                return true;
            };
            if (check(this.current)) {
                return;
            }
            const timer = setTimeout(() => {
                off();
                reject(new TimeoutError());
            }, waitMs);
            const off = this.onState((state) => {
                if (check(state)) {
                    clearTimeout(timer);
                    off();
                }
            });
        });
    }

    /**
     * A `list` or `get` over the socket: the data and the sequence number it reflects. Fails at once when the
     * socket is down, when it drops before the answer, and with `TimeoutError` when no answer comes in time.
     */
    request(model: string, action: "list" | "get", params: unknown): Promise<{ data: unknown; seq: number }> {
        if (this.stopped) {
            return Promise.reject(new ClosedError());
        }
        const socket = this.socket;
        if (!this.ready || socket === null) {
            return Promise.reject(new DisconnectedError());
        }
        const requestId = ++this.nextId;
        return new Promise((resolve, reject) => {
            const timer = setTimeout(() => {
                this.pending.delete(requestId);
                reject(new TimeoutError());
            }, this.options.timeoutMs);
            this.pending.set(requestId, { resolve, reject, timer });
            this.send(socket, { type: "request", requestId, model, action, params });
        });
    }

    /**
     * Receives the events of `channel`, subscribing when this client is not subscribed yet (one server subscription
     * per channel, shared by every listener). Returns the function that stops listening; the last one to stop
     * unsubscribes.
     */
    listen(channel: string, listener: (event: ChannelEvent) => void): () => void {
        let entry = this.channels.get(channel);
        if (entry === undefined) {
            entry = { seq: null, since: null, listeners: new Set() };
            this.channels.set(channel, entry);
            if (this.ready && this.socket !== null) {
                this.send(this.socket, { type: "subscribe", channel });
            }
        }
        const added = entry;
        const own = (event: ChannelEvent): void => listener(event);
        added.listeners.add(own);
        return () => {
            added.listeners.delete(own);
            if (added.listeners.size === 0 && this.channels.get(channel) === added) {
                this.channels.delete(channel);
                if (this.ready && this.socket !== null) {
                    this.send(this.socket, { type: "unsubscribe", channel });
                }
            }
        };
    }

    /** Drops the socket and connects again at once (a new token, say); subscriptions resume with `since`. */
    reconnect(): void {
        if (this.stopped) {
            return;
        }
        this.attempt = 0;
        this.refreshed = false;
        this.clearTimer();
        const socket = this.socket;
        this.dropped();
        if (socket !== null) {
            socket.close(1000, "reconnecting");
        }
        void this.connect();
    }

    /** Closes the socket for good: no reconnect; pending requests fail with `ClosedError`. */
    close(): void {
        if (this.stopped) {
            return;
        }
        this.stop(new ClosedError());
    }

    private setState(state: ConnectionState): void {
        this.current = state;
        for (const listener of [...this.stateListeners]) {
            listener(state);
        }
    }

    private clearTimer(): void {
        if (this.timer !== null) {
            clearTimeout(this.timer);
            this.timer = null;
        }
    }

    private clearHandshake(): void {
        if (this.handshake !== null) {
            clearTimeout(this.handshake);
            this.handshake = null;
        }
    }

    private async connect(): Promise<void> {
        this.setState({ status: "connecting" });
        let token: string | null | undefined;
        try {
            token = await this.options.token();
        } catch {
            token = null;
        }
        if (this.stopped || this.socket !== null || this.current.status !== "connecting") {
            return; // closed, or another connect won meanwhile
        }
        if (!token) {
            // The gateway needs a token: without one there is no live connection, and reads go over HTTP.
            this.setState({ status: "offline" });
            return;
        }
        const subprotocol = (this.options.auth ?? "subprotocol") === "subprotocol" && SUBPROTOCOL_TOKEN.test(token);
        let socket: WebSocketLike;
        try {
            socket = subprotocol ? new this.WebSocket(this.url, ["ssot.v1", `bearer.${token}`]) : new this.WebSocket(this.url);
        } catch {
            this.retry(false);
            return;
        }
        this.socket = socket;
        let opened = false;
        // A handshake that never completes (a proxy that accepts and hangs) counts as a failed attempt.
        this.handshake = setTimeout(() => this.ended(socket, 1006, "no `ready` in time"), this.options.timeoutMs);
        socket.onopen = () => {
            opened = true;
            if (!subprotocol && socket === this.socket) {
                this.send(socket, { type: "auth", token });
            }
        };
        socket.onmessage = (event) => {
            if (socket === this.socket) {
                this.receive(socket, event.data);
            }
        };
        socket.onerror = () => {
            // Browsers follow an error with a close, which decides what happens next; some WebSocket implementations
            // (Node 20's) do not when the connection fails before it opened.
            if (!opened) {
                this.ended(socket, 1006, "the connection failed");
            }
        };
        socket.onclose = (event) => this.ended(socket, event.code, event.reason);
    }

    /** One socket's end, however it is learnt (close, error before open, handshake timeout): once per socket. */
    private ended(socket: WebSocketLike, code: number, reason: string): void {
        if (socket !== this.socket) {
            return;
        }
        const wasReady = this.ready;
        this.dropped();
        try {
            socket.close();
        } catch {
            // Already closing.
        }
        if (code === CLOSE_UNAUTHORIZED) {
            if (this.refreshed) {
                this.stop(new AuthError(reason || "the server refused the token"));
                return;
            }
            // One retry right away, with the token asked for anew.
            this.refreshed = true;
            void this.connect();
            return;
        }
        this.retry(wasReady);
    }

    /** The socket is gone: requests in flight fail now, not at their timeout; listeners hear of it. */
    private dropped(): void {
        this.clearHandshake();
        this.socket = null;
        this.ready = false;
        for (const [, pending] of this.pending) {
            clearTimeout(pending.timer);
            pending.reject(new DisconnectedError());
        }
        this.pending.clear();
        this.notifyAll({ type: "disconnected" });
    }

    private retry(wasReady: boolean): void {
        if (this.stopped) {
            return;
        }
        if (wasReady) {
            this.attempt = 0;
        }
        const delayMs = backoffDelay(this.backoff, this.attempt, this.random());
        this.setState({ status: "reconnecting", attempt: this.attempt, delayMs });
        this.attempt += 1;
        this.clearTimer();
        this.timer = setTimeout(() => {
            this.timer = null;
            void this.connect();
        }, delayMs);
    }

    private stop(error: ClientError): void {
        this.stopped = true;
        this.clearTimer();
        this.clearHandshake();
        const socket = this.socket;
        this.socket = null;
        this.ready = false;
        for (const [, pending] of this.pending) {
            clearTimeout(pending.timer);
            pending.reject(error);
        }
        this.pending.clear();
        // Live lists must no longer claim to be current.
        this.notifyAll({ type: "disconnected" });
        if (socket !== null) {
            socket.close(1000, "closed by the client");
        }
        this.setState({ status: "failed", error });
    }

    private notifyAll(event: ChannelEvent): void {
        for (const channel of [...this.channels.values()]) {
            for (const listener of [...channel.listeners]) {
                listener(event);
            }
        }
    }

    private send(socket: WebSocketLike, message: unknown): void {
        if (socket.readyState === OPEN) {
            socket.send(encodeJson(message));
        }
    }

    private receive(socket: WebSocketLike, data: unknown): void {
        let message: { [key: string]: unknown };
        try {
            message = JSON.parse(String(data)) as { [key: string]: unknown };
        } catch {
            return; // not JSON: nothing this client can use
        }
        switch (message.type) {
            case "ready": {
                this.ready = true;
                this.clearHandshake();
                // The count restarts after a connection that got as far as `ready`, and so does the token refresh.
                this.attempt = 0;
                this.refreshed = false;
                this.setState({ status: "connected" });
                // Every channel again, from where it stopped.
                for (const [channel, entry] of this.channels) {
                    const subscribe: { [key: string]: unknown } = { type: "subscribe", channel };
                    entry.since = entry.seq;
                    if (entry.seq !== null) {
                        subscribe.since = entry.seq;
                    }
                    this.send(socket, subscribe);
                }
                break;
            }
            case "subscribed": {
                const entry = this.channels.get(String(message.channel));
                const seq = Number(message.seq);
                if (entry === undefined || !Number.isFinite(seq)) {
                    break;
                }
                // Replayed events follow when resumed; otherwise the stream restarts at `seq`.
                const resumed = typeof message.resumed === "boolean" ? message.resumed : entry.seq === null;
                if (!resumed || entry.seq === null) {
                    entry.seq = seq;
                }
                this.deliver(entry, { type: "subscribed", seq, resumed, since: entry.since });
                break;
            }
            case "update": {
                const entry = this.channels.get(String(message.channel));
                const seq = Number(message.seq);
                if (entry === undefined || !Number.isFinite(seq) || (entry.seq !== null && seq <= entry.seq)) {
                    break; // not ours, or already seen
                }
                entry.seq = seq;
                const kind = message.kind as ChangeKind;
                this.deliver(entry, { type: "update", seq, kind, id: String(message.id), data: message.data });
                break;
            }
            case "response": {
                const pending = this.pending.get(Number(message.requestId));
                if (pending === undefined) {
                    break;
                }
                this.pending.delete(Number(message.requestId));
                clearTimeout(pending.timer);
                if (message.error !== undefined && message.error !== null) {
                    pending.reject(isErrorBody(message.error) ? new RequestError(message.error) : new ProtocolError("a malformed error answer"));
                } else if (message.data === undefined) {
                    pending.reject(new ProtocolError("a response without data or error"));
                } else {
                    pending.resolve({ data: message.data, seq: typeof message.seq === "number" ? message.seq : 0 });
                }
                break;
            }
            case "error": {
                if (typeof message.channel !== "string") {
                    break;
                }
                const entry = this.channels.get(message.channel);
                if (entry !== undefined) {
                    this.channels.delete(message.channel);
                    const error = isErrorBody(message) ? { code: message.code, message: message.message } : { code: "error", message: "refused" };
                    this.deliver(entry, { type: "refused", error });
                }
                break;
            }
            default:
                break;
        }
    }

    private deliver(entry: Channel, event: ChannelEvent): void {
        for (const listener of [...entry.listeners]) {
            listener(event);
        }
    }
}
