// The schema-independent API of the client, in one module. The package's root (`index.ts`, generated) re-exports
// it beside the schema's types; a model whose name equals one of these is exported from the root instead, and the
// runtime's one stays reachable here (`<package>/runtime`).
export { DEFAULT_BACKOFF, backoffBound, backoffDelay } from "./backoff.js";
export { Client, Resource } from "./client.js";
export { AuthError, ClientError, ClosedError, DisconnectedError, HttpError, ProtocolError, RequestError, TimeoutError, TransportError, } from "./errors.js";
export { HttpTransport } from "./http.js";
export { LiveItem, LiveList } from "./live.js";
export { WsTransport } from "./ws.js";
export { encodeJson } from "./wire.js";
