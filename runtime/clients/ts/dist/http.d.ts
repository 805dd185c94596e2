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
export declare class HttpTransport {
    private readonly options;
    private readonly base;
    private readonly fetch;
    constructor(options: HttpOptions);
    /** `GET <route>` with `where` and `orderBy` as JSON query parameters, `skip` and `take` as numbers, and
     * `include` as it is. */
    list(route: string, query: {
        where?: unknown;
        orderBy?: unknown;
        skip?: number;
        take?: number;
        include?: string;
    }): Promise<unknown>;
    /** `GET <route>/<id>`, with `include` when given. */
    get(route: string, id: string, include?: string): Promise<unknown>;
    create(route: string, input: unknown): Promise<Written>;
    update(route: string, id: string, input: unknown): Promise<Written>;
    patch(route: string, id: string, input: unknown): Promise<Written>;
    delete(route: string, id: string): Promise<Written>;
    /** One request; a 401 asks the token provider once more and retries once. */
    send(method: string, path: string, body?: unknown): Promise<Written>;
    private attempt;
}
