// JSON on the wire. The schema's `bigint` fields travel as JSON strings of decimal digits (`"9007199254740993"`),
// because a JSON number beyond 2^53 loses digits in every JavaScript parser; the client holds them as `bigint`.
// Encoding needs no schema: every `bigint` value becomes such a string. Decoding does (a string field that holds
// digits is still a string), so each model's generated `decode` converts its own bigint fields.

/** A JSON value (what a `json` field holds). */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** `JSON.stringify` that writes every `bigint` as a string of its decimal digits. */
export function encodeJson(value: unknown): string {
    return JSON.stringify(value, (_key, v: unknown) => (typeof v === "bigint" ? v.toString() : v));
}

/** A `bigint` field's wire value (a string of digits; a number is accepted as the server accepts it). */
export function toBigInt(value: unknown): bigint {
    if (typeof value === "bigint") {
        return value;
    }
    if (typeof value === "string" && /^-?[0-9]+$/.test(value)) {
        return BigInt(value);
    }
    if (typeof value === "number" && Number.isSafeInteger(value)) {
        return BigInt(value);
    }
    throw new TypeError(`not a bigint on the wire: ${JSON.stringify(value)}`);
}

/** An optional `bigint` field's wire value. */
export function toBigIntOrNull(value: unknown): bigint | null {
    return value === null || value === undefined ? null : toBigInt(value);
}
