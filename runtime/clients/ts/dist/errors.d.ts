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
export declare abstract class ClientError extends Error {
    abstract readonly kind: ErrorKind;
    /** The server's error code, when the server answered with one. */
    get code(): string | undefined;
}
/** The server answered with an error status and its error body. */
export declare class HttpError extends ClientError {
    readonly status: number;
    readonly body: ErrorBody;
    readonly kind = "http";
    constructor(status: number, body: ErrorBody);
    get code(): string;
    /** The violations of a `validation_failed` answer (empty otherwise). */
    get details(): ErrorDetail[];
}
/** The server answered a WebSocket request or subscription with an error. */
export declare class RequestError extends ClientError {
    readonly body: ErrorBody;
    readonly kind = "request";
    constructor(body: ErrorBody);
    get code(): string;
}
/** The token was refused (HTTP 401 or close code 4401), also after asking the token provider once more. */
export declare class AuthError extends ClientError {
    readonly reason: string;
    readonly kind = "auth";
    constructor(reason: string);
}
/** No answer in time. */
export declare class TimeoutError extends ClientError {
    readonly kind = "timeout";
    constructor();
}
/** The connection could not be made or broke (refused, reset, DNS, CORS). */
export declare class TransportError extends ClientError {
    readonly reason: string;
    readonly kind = "transport";
    constructor(reason: string);
}
/** The server said something this client does not understand (a bug on one side). */
export declare class ProtocolError extends ClientError {
    readonly reason: string;
    readonly kind = "protocol";
    constructor(reason: string);
}
/** The WebSocket is not connected: the request was not sent, or the socket dropped before the answer. */
export declare class DisconnectedError extends ClientError {
    readonly kind = "disconnected";
    constructor();
}
/** The client was shut down with `close()`. */
export declare class ClosedError extends ClientError {
    readonly kind = "closed";
    constructor();
}
/** Whether `value` has the server's error shape. */
export declare function isErrorBody(value: unknown): value is ErrorBody;
