// Typed list queries (filter operators chosen by a field's type, sort keys) and their evaluation on records, with
// exactly the server's semantics: SQL's three-valued logic for nulls, text compared by code point (the servers
// compare UTF-8 bytes: SQLite's BINARY collation, PostgreSQL's `COLLATE "C"`), times compared as instants, NULLs
// first ascending and last descending, the id as the last sort key. Live lists apply events with it; each model's
// generated `truth` and `compare` call it field by field.

/** Sort direction of one `orderBy` entry. */
export type SortOrder = "asc" | "desc";

/** Operators for a uuid or enum field. */
export interface EqualityFilter<T> {
    equals?: T;
    not?: T;
    in?: readonly T[];
    notIn?: readonly T[];
}

/** Operators for an optional uuid or enum field: `isNull: true` matches rows where it is null. */
export interface NullableEqualityFilter<T> extends EqualityFilter<T> {
    isNull?: boolean;
}

/** Operators for a number, date or time field. */
export interface OrderedFilter<T> extends EqualityFilter<T> {
    lt?: T;
    lte?: T;
    gt?: T;
    gte?: T;
}

/** Operators for an optional number, date or time field. */
export interface NullableOrderedFilter<T> extends OrderedFilter<T> {
    isNull?: boolean;
}

/** Operators for a text field: case-sensitive, compared by code point. */
export interface StringFilter extends OrderedFilter<string> {
    contains?: string;
    startsWith?: string;
    endsWith?: string;
}

/** Operators for an optional text field. */
export interface NullableStringFilter extends StringFilter {
    isNull?: boolean;
}

/** Operators for a boolean field. */
export interface BoolFilter {
    equals?: boolean;
    not?: boolean;
}

/** Operators for an optional boolean field. */
export interface NullableBoolFilter extends BoolFilter {
    isNull?: boolean;
}

/** Operators for an optional json field, which can only be tested for null. */
export interface NullFilter {
    isNull?: boolean;
}

/**
 * One sort key of a model whose orderable fields are `Keys`: an object with exactly one of them,
 * `{ createdAt: "desc" }`. Lists always end with the id as a tie-break, so pages are stable.
 */
export type OrderBy<Keys extends string> = {
    [K in Keys]: {
        [P in K]: SortOrder;
    } & {
        [P in Exclude<Keys, K>]?: never;
    };
}[Keys];

/** A list query: filter, sort keys, and the page (`take` defaults to the server's page size). */
export interface Query<Filter, Order> {
    where?: Filter;
    orderBy?: readonly Order[];
    skip?: number;
    take?: number;
}

/** SQL's three-valued truth: `null` is unknown, the outcome of comparing with NULL. Only `true` selects a row. */
export type Truth = boolean | null;

/** `a AND b` in SQL. */
export function and(a: Truth, b: Truth): Truth {
    if (a === false || b === false) {
        return false;
    }
    return a === true && b === true ? true : null;
}

/** `a OR b` in SQL. */
export function or(a: Truth, b: Truth): Truth {
    if (a === true || b === true) {
        return true;
    }
    return a === false && b === false ? false : null;
}

/** `NOT a` in SQL. */
export function not(a: Truth): Truth {
    return a === null ? null : !a;
}

/** How values of one field type compare: negative, zero or positive; `NaN` for values that do not compare. */
export interface ValueType<T> {
    readonly compare: (a: T, b: T) => number;
}

/**
 * Text by code point, as the servers compare UTF-8 bytes. JavaScript's `<` compares UTF-16 code units, which puts
 * U+E000..U+FFFF after the surrogate pairs of U+10000 and above; the first differing unit is remapped so that
 * surrogates sort above every other unit.
 */
export function compareText(a: string, b: string): number {
    const length = Math.min(a.length, b.length);
    for (let i = 0; i < length; i++) {
        const x = a.charCodeAt(i);
        const y = b.charCodeAt(i);
        if (x !== y) {
            return codePointRank(x) - codePointRank(y);
        }
    }
    return a.length - b.length;
}

function codePointRank(unit: number): number {
    if (unit >= 0xe000) {
        return unit - 0x800;
    }
    return unit >= 0xd800 ? unit + 0x2000 : unit;
}

function compareNumbers(a: number, b: number): number {
    return a < b ? -1 : a > b ? 1 : a === b ? 0 : Number.NaN;
}

function compareBigInts(a: bigint, b: bigint): number {
    return a < b ? -1 : a > b ? 1 : 0;
}

const DATE = /^([+-]?[0-9]{4,})-([0-9]{2})-([0-9]{2})$/;
const DATETIME = /^([+-]?[0-9]{4,})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?([Zz]|[+-][0-9]{2}:?[0-9]{2})$/;

/** Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`). */
function daysFromCivil(year: number, month: number, day: number): number {
    const y = month <= 2 ? year - 1 : year;
    const era = Math.floor(y / 400);
    const yoe = y - era * 400;
    const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
    const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
    return era * 146097 + doe - 719468;
}

/** A `date` (`2026-11-26`) as days since the epoch; `NaN` if it is not one. */
export function dateKey(value: string): number {
    const m = DATE.exec(value);
    return m ? daysFromCivil(Number(m[1]), Number(m[2]), Number(m[3])) : Number.NaN;
}

/**
 * A `datetime` (RFC 3339, any offset) as microseconds since the epoch; `NaN` if it is not one. Digits below the
 * microsecond are dropped, as both servers store microseconds. (A `number` holds microseconds exactly up to year
 * 2255; beyond that ordering stays right while equality may merge neighbours.)
 */
export function datetimeKey(value: string): number {
    const m = DATETIME.exec(value);
    if (!m) {
        return Number.NaN;
    }
    const [, year, month, day, hour, minute, second, fraction, zone] = m as unknown as string[];
    let offset = 0;
    if (zone !== "Z" && zone !== "z") {
        const digits = zone.replace(":", "");
        offset = (zone.startsWith("-") ? -1 : 1) * (Number(digits.slice(1, 3)) * 60 + Number(digits.slice(3, 5)));
    }
    const days = daysFromCivil(Number(year), Number(month), Number(day));
    const seconds = days * 86400 + Number(hour) * 3600 + (Number(minute) - offset) * 60 + Number(second);
    const micros = fraction ? Number((fraction + "00000").slice(0, 6)) : 0;
    return seconds * 1_000_000 + micros;
}

/** A uuid in the one form the servers compare: 32 lowercase hex digits. */
export function uuidKey(value: string): string {
    return value.toLowerCase().replace(/^urn:uuid:/, "").replace(/[{}-]/g, "");
}

export const text: ValueType<string> = { compare: compareText };
export const int: ValueType<number> = { compare: compareNumbers };
export const float: ValueType<number> = { compare: compareNumbers };
export const bigint: ValueType<bigint> = { compare: compareBigInts };
export const bool: ValueType<boolean> = { compare: (a, b) => Number(a) - Number(b) };
export const datetime: ValueType<string> = { compare: (a, b) => compareNumbers(datetimeKey(a), datetimeKey(b)) };
export const date: ValueType<string> = { compare: (a, b) => compareNumbers(dateKey(a), dateKey(b)) };
export const uuid: ValueType<string> = { compare: (a, b) => compareText(uuidKey(a), uuidKey(b)) };
/** Enums have no order operators and are not sorted on: only equality counts, which the text order gives. */
export const enumeration: ValueType<string> = { compare: compareText };
/** Json fields are only ever tested for null. */
export const json: ValueType<unknown> = { compare: () => Number.NaN };

/** Every operator a field filter may carry; each filter type above is a subset of it. */
export interface FieldOperators<T> {
    equals?: T;
    not?: T;
    in?: readonly T[];
    notIn?: readonly T[];
    lt?: T;
    lte?: T;
    gt?: T;
    gte?: T;
    contains?: string;
    startsWith?: string;
    endsWith?: string;
    isNull?: boolean;
}

/**
 * A filter through a to-one relation (docs/rest.md): the related row matches `is` (`null`: there is none the caller
 * may read), or none matches `isNot` (`null`: there is one).
 */
export interface ToOneFilter<F> {
    is?: F | null;
    isNot?: F | null;
}

/** A filter through a to-many relation: `some`, `every` or `none` of the related rows the caller may read match. */
export interface ToManyFilter<F> {
    some?: F;
    every?: F;
    none?: F;
}

/**
 * A relation filter's part of a record's truth: the related rows are not in the record, so a set relation filter is
 * unknown (`false` and unknown is still `false`). A live list with such a filter reads its page again on changes
 * instead of applying them (`follow.ts`).
 */
export function related(truth: Truth, filter: object | null | undefined): Truth {
    return filter === undefined || filter === null ? truth : and(truth, null);
}

/** Whether `filter` goes through one of the model's `relations` anywhere (its `AND`, `OR` and `NOT` included). */
export function followsRelations(filter: object | null | undefined, relations: readonly { readonly name: string }[]): boolean {
    if (filter === undefined || filter === null) {
        return false;
    }
    return Object.entries(filter).some(([key, value]) =>
        key === "AND" || key === "OR" || key === "NOT"
            ? Array.isArray(value) && value.some((f) => followsRelations(f as object, relations))
            : relations.some((r) => r.name === key) && value !== undefined && value !== null,
    );
}

/**
 * One field's operators applied to a record's value (`null`: the field is null), ANDed into `truth`, as the server's
 * SQL evaluates them: a comparison with NULL is unknown, `in []` is false and `notIn []` true. An operator that is
 * absent or `null` is no condition, as when the server reads it.
 */
export function field<T>(truth: Truth, ops: FieldOperators<T> | null | undefined, value: T | null, type: ValueType<T>): Truth {
    if (ops === null || ops === undefined) {
        return truth;
    }
    const compare = (operand: T, accept: (ordering: number) => boolean): Truth =>
        value === null ? null : accept(type.compare(value, operand));
    const equal = (ordering: number): boolean => ordering === 0;
    if (ops.equals !== undefined && ops.equals !== null) {
        truth = and(truth, compare(ops.equals, equal));
    }
    if (ops.not !== undefined && ops.not !== null) {
        truth = and(truth, compare(ops.not, (o) => o < 0 || o > 0));
    }
    if (ops.in !== undefined && ops.in !== null) {
        const list = ops.in;
        truth = and(truth, list.length === 0 ? false : value === null ? null : list.some((x) => type.compare(value, x) === 0));
    }
    if (ops.notIn !== undefined && ops.notIn !== null) {
        const list = ops.notIn;
        truth = and(truth, list.length === 0 ? true : value === null ? null : !list.some((x) => type.compare(value, x) === 0));
    }
    if (ops.lt !== undefined && ops.lt !== null) {
        truth = and(truth, compare(ops.lt, (o) => o < 0));
    }
    if (ops.lte !== undefined && ops.lte !== null) {
        truth = and(truth, compare(ops.lte, (o) => o <= 0));
    }
    if (ops.gt !== undefined && ops.gt !== null) {
        truth = and(truth, compare(ops.gt, (o) => o > 0));
    }
    if (ops.gte !== undefined && ops.gte !== null) {
        truth = and(truth, compare(ops.gte, (o) => o >= 0));
    }
    const haystack = value as unknown;
    if (ops.contains !== undefined && ops.contains !== null) {
        const needle = ops.contains;
        truth = and(truth, typeof haystack === "string" ? haystack.includes(needle) : null);
    }
    if (ops.startsWith !== undefined && ops.startsWith !== null) {
        const prefix = ops.startsWith;
        truth = and(truth, typeof haystack === "string" ? haystack.startsWith(prefix) : null);
    }
    if (ops.endsWith !== undefined && ops.endsWith !== null) {
        const suffix = ops.endsWith;
        truth = and(truth, typeof haystack === "string" ? haystack.endsWith(suffix) : null);
    }
    if (ops.isNull !== undefined && ops.isNull !== null) {
        truth = and(truth, (value === null) === ops.isNull);
    }
    return truth;
}

/** `AND`: every nested filter holds. */
export function all<F>(truth: Truth, filters: readonly F[] | null | undefined, each: (filter: F) => Truth): Truth {
    for (const filter of filters ?? []) {
        truth = and(truth, each(filter));
    }
    return truth;
}

/** `OR`: at least one nested filter holds (no nested filter: no condition). */
export function any<F>(truth: Truth, filters: readonly F[] | null | undefined, each: (filter: F) => Truth): Truth {
    if (filters === null || filters === undefined || filters.length === 0) {
        return truth;
    }
    let some: Truth = false;
    for (const filter of filters) {
        some = or(some, each(filter));
    }
    return and(truth, some);
}

/** `NOT`: no nested filter holds. */
export function none<F>(truth: Truth, filters: readonly F[] | null | undefined, each: (filter: F) => Truth): Truth {
    for (const filter of filters ?? []) {
        truth = and(truth, not(each(filter)));
    }
    return truth;
}

/** The types of a model's orderable fields, by field name. */
export type SortColumns = { readonly [field: string]: ValueType<never> };

/** Orders two values of a sort key as the server does: NULLs first ascending and last descending. */
function compareNullsFirst<T>(a: T | null, b: T | null, type: ValueType<T>, order: SortOrder): number {
    let ascending: number;
    if (a === null || b === null) {
        ascending = a === null ? (b === null ? 0 : -1) : 1;
    } else {
        const ordering = type.compare(a, b);
        ascending = Number.isNaN(ordering) ? 0 : ordering;
    }
    return order === "desc" ? -ascending : ascending;
}

/**
 * Sorts two records as the server sorts a list with these keys: key by key (NULLs first ascending, last
 * descending), then by the id, ascending unless a key on the id says otherwise.
 */
export function compareRecords<R extends object>(
    keys: readonly object[],
    a: R,
    b: R,
    columns: SortColumns,
    idField: string,
    idType: ValueType<never>,
): number {
    const left = a as { readonly [field: string]: unknown };
    const right = b as { readonly [field: string]: unknown };
    let idOrder: SortOrder = "asc";
    for (const key of keys) {
        for (const [name, order] of Object.entries(key) as [string, SortOrder][]) {
            if (name === idField) {
                idOrder = order;
                continue;
            }
            const type = columns[name] as ValueType<unknown> | undefined;
            if (type === undefined) {
                continue;
            }
            const ordering = compareNullsFirst(left[name] ?? null, right[name] ?? null, type, order);
            if (ordering !== 0) {
                return ordering;
            }
        }
    }
    return compareNullsFirst(left[idField] ?? null, right[idField] ?? null, idType as ValueType<unknown>, idOrder);
}
