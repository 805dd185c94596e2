// The HTTP transport: every operation as one REST request over `fetch`, the server's error body mapped to typed
// errors, `Event-Seq` read from every mutation's answer (the server exposes it to other origins through CORS).

import { AuthError, ClientError, HttpError, ProtocolError, TimeoutError, TransportError, isErrorBody } from "./errors.js";
import { encodeJson } from "./wire.js";

/** Returns the token for a request or a connection: asked every time, so it can refresh. */
export type TokenProvider = () => string | null | undefined | Promise<string | null | undefined>;

/** A mutation's answer: the record (none for a delete) and the sequence number of the event it committed. */
export interface Written {
    body: unknown;
    /** `Event-Seq`: wait for this sequence number on a live list to see the write there. */
    seq: number | null;
}

export interface HttpOptions {
    /** The server's base URL (`http://127.0.0.1:8080`). */
    url: string;
    token: TokenProvider;
    timeoutMs: number;
    /** `fetch` (default: the global one). */
    fetch?: typeof fetch;
}

/** REST over HTTP(S). */
export class HttpTransport {
    private readonly base: string;
    private readonly fetch: typeof fetch;

    constructor(private readonly options: HttpOptions) {
        this.base = options.url.replace(/\/+$/, "");
        const fetchFn = options.fetch ?? globalThis.fetch;
        if (typeof fetchFn !== "function") {
            throw new TransportError("no fetch: pass one in the options");
        }
        // Called unbound: some implementations refuse a `this` other than the global object.
        this.fetch = (input, init) => fetchFn(input, init);
    }

    /** `GET <route>` with `where` and `orderBy` as JSON query parameters, `skip` and `take` as numbers, and
     * `include` as it is. */
    async list(route: string, query: { where?: unknown; orderBy?: unknown; skip?: number; take?: number; include?: string }): Promise<unknown> {
        const params = new URLSearchParams();
        if (query.where !== undefined) {
            params.set("where", encodeJson(query.where));
        }
        if (query.orderBy !== undefined && (!Array.isArray(query.orderBy) || query.orderBy.length > 0)) {
            params.set("orderBy", encodeJson(query.orderBy));
        }
        if (query.skip !== undefined) {
            params.set("skip", String(query.skip));
        }
        if (query.take !== undefined) {
            params.set("take", String(query.take));
        }
        if (query.include !== undefined) {
            params.set("include", query.include);
        }
        const search = params.toString();
        return (await this.send("GET", search ? `${route}?${search}` : route)).body;
    }

    /** `GET <route>/<id>`, with `include` when given. */
    async get(route: string, id: string, include?: string): Promise<unknown> {
        const search = include === undefined ? "" : `?${new URLSearchParams({ include })}`;
        return (await this.send("GET", `${route}/${encodeURIComponent(id)}${search}`)).body;
    }

    create(route: string, input: unknown): Promise<Written> {
        return this.send("POST", route, input);
    }

    update(route: string, id: string, input: unknown): Promise<Written> {
        return this.send("PUT", `${route}/${encodeURIComponent(id)}`, input);
    }

    patch(route: string, id: string, input: unknown): Promise<Written> {
        return this.send("PATCH", `${route}/${encodeURIComponent(id)}`, input);
    }

    delete(route: string, id: string): Promise<Written> {
        return this.send("DELETE", `${route}/${encodeURIComponent(id)}`);
    }

    /** One request; a 401 asks the token provider once more and retries once. */
    async send(method: string, path: string, body?: unknown): Promise<Written> {
        try {
            return await this.attempt(method, path, body);
        } catch (error) {
            if (error instanceof AuthError) {
                return this.attempt(method, path, body);
            }
            throw error;
        }
    }

    private async attempt(method: string, path: string, body: unknown): Promise<Written> {
        const token = await this.options.token();
        const headers: Record<string, string> = { Accept: "application/json" };
        if (token) {
            headers.Authorization = `Bearer ${token}`;
        }
        if (body !== undefined) {
            headers["Content-Type"] = "application/json";
        }
        const controller = new AbortController();
        const timer = setTimeout(() => controller.abort(), this.options.timeoutMs);
        let response: Response;
        let text: string;
        try {
            response = await this.fetch(`${this.base}${path}`, {
                method,
                headers,
                body: body === undefined ? undefined : encodeJson(body),
                signal: controller.signal,
            });
            text = await response.text();
        } catch (error) {
            throw controller.signal.aborted ? new TimeoutError() : new TransportError(describe(error));
        } finally {
            clearTimeout(timer);
        }
        const header = response.headers.get("Event-Seq");
        const seq = header !== null && /^[0-9]+$/.test(header.trim()) ? Number(header.trim()) : null;
        let json: unknown = undefined;
        if (text !== "") {
            try {
                json = JSON.parse(text);
            } catch {
                if (response.ok) {
                    throw new ProtocolError(`${method} ${path}: the answer is not JSON`);
                }
            }
        }
        if (!response.ok) {
            throw httpError(response.status, json, text || response.statusText);
        }
        return { body: json, seq };
    }
}

function httpError(status: number, json: unknown, text: string): ClientError {
    const error = typeof json === "object" && json !== null ? (json as { error?: unknown }).error : undefined;
    const body = isErrorBody(error) ? error : { code: `http_${status}`, message: text };
    return status === 401 ? new AuthError(body.message) : new HttpError(status, body);
}

function describe(error: unknown): string {
    return error instanceof Error ? error.message : String(error);
}
