// The client's errors: one class per way a call can fail, all subclasses of `ClientError`, with a `kind` that
// narrows in a `switch` as well as `instanceof` does.

/** One violation in a `validation_failed` answer. */
export interface ErrorDetail {
    field: string;
    code: string;
    message: string;
}

/** The server's one error shape (`{"error": {...}}` on REST, `error` in a WebSocket `response`). */
export interface ErrorBody {
    /** Stable: `bad_request`, `validation_failed`, `unauthorized`, `forbidden`, `not_found`, `conflict`, ... */
    code: string;
    message: string;
    details?: ErrorDetail[];
}

/** What went wrong, for a `switch`. */
export type ErrorKind = "http" | "request" | "auth" | "timeout" | "transport" | "protocol" | "disconnected" | "closed";

/** Every error the client throws or reports. */
export abstract class ClientError extends Error {
    abstract readonly kind: ErrorKind;
    /** The server's error code, when the server answered with one. */
    get code(): string | undefined {
        return undefined;
    }
}

/** The server answered with an error status and its error body. */
export class HttpError extends ClientError {
    readonly kind = "http";
    constructor(readonly status: number, readonly body: ErrorBody) {
        super(`HTTP ${status}: ${body.message} (${body.code})`);
        this.name = "HttpError";
    }
    override get code(): string {
        return this.body.code;
    }
    /** The violations of a `validation_failed` answer (empty otherwise). */
    get details(): ErrorDetail[] {
        return this.body.details ?? [];
    }
}

/** The server answered a WebSocket request or subscription with an error. */
export class RequestError extends ClientError {
    readonly kind = "request";
    constructor(readonly body: ErrorBody) {
        super(`request failed: ${body.message} (${body.code})`);
        this.name = "RequestError";
    }
    override get code(): string {
        return this.body.code;
    }
}

/** The token was refused (HTTP 401 or close code 4401), also after asking the token provider once more. */
export class AuthError extends ClientError {
    readonly kind = "auth";
    constructor(readonly reason: string) {
        super(`not authorized: ${reason}`);
        this.name = "AuthError";
    }
}

/** No answer in time. */
export class TimeoutError extends ClientError {
    readonly kind = "timeout";
    constructor() {
        super("the server did not answer in time");
        this.name = "TimeoutError";
    }
}

/** The connection could not be made or broke (refused, reset, DNS, CORS). */
export class TransportError extends ClientError {
    readonly kind = "transport";
    constructor(readonly reason: string) {
        super(`transport error: ${reason}`);
        this.name = "TransportError";
    }
}

/** The server said something this client does not understand (a bug on one side). */
export class ProtocolError extends ClientError {
    readonly kind = "protocol";
    constructor(readonly reason: string) {
        super(`protocol error: ${reason}`);
        this.name = "ProtocolError";
    }
}

/** The WebSocket is not connected: the request was not sent, or the socket dropped before the answer. */
export class DisconnectedError extends ClientError {
    readonly kind = "disconnected";
    constructor() {
        super("the WebSocket is not connected");
        this.name = "DisconnectedError";
    }
}

/** The client was shut down with `close()`. */
export class ClosedError extends ClientError {
    readonly kind = "closed";
    constructor() {
        super("the client was closed");
        this.name = "ClosedError";
    }
}

/** Whether `value` has the server's error shape. */
export function isErrorBody(value: unknown): value is ErrorBody {
    if (typeof value !== "object" || value === null) {
        return false;
    }
    const body = value as { code?: unknown; message?: unknown };
    return typeof body.code === "string" && typeof body.message === "string";
}
