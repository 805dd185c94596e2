// The schema-independent API of the client, in one module. The package's root (`index.ts`, generated) re-exports
// it beside the schema's types; a model whose name equals one of these is exported from the root instead, and the
// runtime's one stays reachable here (`<package>/runtime`).

export { type Backoff, DEFAULT_BACKOFF, backoffBound, backoffDelay } from "./backoff.js";
export { Client, type ClientOptions, type Include, type IncludeObject, type IncludeOptions, Resource, type ResourceOf } from "./client.js";
export {
    AuthError,
    ClientError,
    ClosedError,
    DisconnectedError,
    type ErrorBody,
    type ErrorDetail,
    type ErrorKind,
    HttpError,
    ProtocolError,
    RequestError,
    TimeoutError,
    TransportError,
} from "./errors.js";
export { HttpTransport, type TokenProvider } from "./http.js";
export { LiveItem, type LiveItemSnapshot, LiveList, type LiveSnapshot } from "./live.js";
export type { ModelSpec, ModelTypes, Page, Relation } from "./model.js";
export type {
    BoolFilter,
    EqualityFilter,
    NullFilter,
    NullableBoolFilter,
    NullableEqualityFilter,
    NullableOrderedFilter,
    NullableStringFilter,
    OrderBy,
    OrderedFilter,
    Query,
    SortOrder,
    StringFilter,
    Truth,
} from "./query.js";
export { type ChangeKind, type ChannelEvent, type ConnectionState, type WebSocketConstructor, type WebSocketLike, WsTransport } from "./ws.js";
export { type Json, encodeJson } from "./wire.js";
