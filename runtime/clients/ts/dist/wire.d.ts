/** A JSON value (what a `json` field holds). */
export type Json = null | boolean | number | string | Json[] | {
    [key: string]: Json;
};
/** `JSON.stringify` that writes every `bigint` as a string of its decimal digits. */
export declare function encodeJson(value: unknown): string;
/** A `bigint` field's wire value (a string of digits; a number is accepted as the server accepts it). */
export declare function toBigInt(value: unknown): bigint;
/** An optional `bigint` field's wire value. */
export declare function toBigIntOrNull(value: unknown): bigint | null;
