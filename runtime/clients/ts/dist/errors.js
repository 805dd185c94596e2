// The client's errors: one class per way a call can fail, all subclasses of `ClientError`, with a `kind` that
// narrows in a `switch` as well as `instanceof` does.
/** Every error the client throws or reports. */
export class ClientError extends Error {
    /** The server's error code, when the server answered with one. */
    get code() {
        return undefined;
    }
}
/** The server answered with an error status and its error body. */
export class HttpError extends ClientError {
    status;
    body;
    kind = "http";
    constructor(status, body) {
        super(`HTTP ${status}: ${body.message} (${body.code})`);
        this.status = status;
        this.body = body;
        this.name = "HttpError";
    }
    get code() {
        return this.body.code;
    }
    /** The violations of a `validation_failed` answer (empty otherwise). */
    get details() {
        return this.body.details ?? [];
    }
}
/** The server answered a WebSocket request or subscription with an error. */
export class RequestError extends ClientError {
    body;
    kind = "request";
    constructor(body) {
        super(`request failed: ${body.message} (${body.code})`);
        this.body = body;
        this.name = "RequestError";
    }
    get code() {
        return this.body.code;
    }
}
/** The token was refused (HTTP 401 or close code 4401), also after asking the token provider once more. */
export class AuthError extends ClientError {
    reason;
    kind = "auth";
    constructor(reason) {
        super(`not authorized: ${reason}`);
        this.reason = reason;
        this.name = "AuthError";
    }
}
/** No answer in time. */
export class TimeoutError extends ClientError {
    kind = "timeout";
    constructor() {
        super("the server did not answer in time");
        this.name = "TimeoutError";
    }
}
/** The connection could not be made or broke (refused, reset, DNS, CORS). */
export class TransportError extends ClientError {
    reason;
    kind = "transport";
    constructor(reason) {
        super(`transport error: ${reason}`);
        this.reason = reason;
        this.name = "TransportError";
    }
}
/** The server said something this client does not understand (a bug on one side). */
export class ProtocolError extends ClientError {
    reason;
    kind = "protocol";
    constructor(reason) {
        super(`protocol error: ${reason}`);
        this.reason = reason;
        this.name = "ProtocolError";
    }
}
/** The WebSocket is not connected: the request was not sent, or the socket dropped before the answer. */
export class DisconnectedError extends ClientError {
    kind = "disconnected";
    constructor() {
        super("the WebSocket is not connected");
        this.name = "DisconnectedError";
    }
}
/** The client was shut down with `close()`. */
export class ClosedError extends ClientError {
    kind = "closed";
    constructor() {
        super("the client was closed");
        this.name = "ClosedError";
    }
}
/** Whether `value` has the server's error shape. */
export function isErrorBody(value) {
    if (typeof value !== "object" || value === null) {
        return false;
    }
    const body = value;
    return typeof body.code === "string" && typeof body.message === "string";
}
