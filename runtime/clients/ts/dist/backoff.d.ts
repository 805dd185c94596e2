export interface Backoff {
    /** The bound of the first retry, in milliseconds. Default 100. */
    baseMs: number;
    /** The largest bound, in milliseconds. Default 10 000. */
    capMs: number;
}
export declare const DEFAULT_BACKOFF: Backoff;
/** The bound before jitter of the `attempt`-th retry (0-based): `min(cap, base * 2^attempt)`. */
export declare function backoffBound(backoff: Backoff, attempt: number): number;
/** The delay before the `attempt`-th retry; `unit` is a random number in [0, 1) (injected, so tests can fix it). */
export declare function backoffDelay(backoff: Backoff, attempt: number, unit: number): number;
