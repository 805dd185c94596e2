// Reconnection delays: exponential from `baseMs`, capped at `capMs`, with full jitter (a uniformly random delay
// between zero and the exponential bound), so that clients dropped together do not come back together.

export interface Backoff {
    /** The bound of the first retry, in milliseconds. Default 100. */
    baseMs: number;
    /** The largest bound, in milliseconds. Default 10 000. */
    capMs: number;
}

export const DEFAULT_BACKOFF: Backoff = { baseMs: 100, capMs: 10_000 };

/** The bound before jitter of the `attempt`-th retry (0-based): `min(cap, base * 2^attempt)`. */
export function backoffBound(backoff: Backoff, attempt: number): number {
    // 2^attempt overflows to Infinity for a large attempt; the cap still applies.
    return Math.min(backoff.capMs, backoff.baseMs * 2 ** Math.max(0, attempt));
}

/** The delay before the `attempt`-th retry; `unit` is a random number in [0, 1) (injected, so tests can fix it). */
export function backoffDelay(backoff: Backoff, attempt: number, unit: number): number {
    return backoffBound(backoff, attempt) * Math.min(1, Math.max(0, unit));
}
