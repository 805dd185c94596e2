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
export declare function and(a: Truth, b: Truth): Truth;
/** `a OR b` in SQL. */
export declare function or(a: Truth, b: Truth): Truth;
/** `NOT a` in SQL. */
export declare function not(a: Truth): Truth;
/** How values of one field type compare: negative, zero or positive; `NaN` for values that do not compare. */
export interface ValueType<T> {
    readonly compare: (a: T, b: T) => number;
}
/**
 * Text by code point, as the servers compare UTF-8 bytes. JavaScript's `<` compares UTF-16 code units, which puts
 * U+E000..U+FFFF after the surrogate pairs of U+10000 and above; the first differing unit is remapped so that
 * surrogates sort above every other unit.
 */
export declare function compareText(a: string, b: string): number;
/** A `date` (`2026-11-26`) as days since the epoch; `NaN` if it is not one. */
export declare function dateKey(value: string): number;
/**
 * A `datetime` (RFC 3339, any offset) as microseconds since the epoch; `NaN` if it is not one. Digits below the
 * microsecond are dropped, as both servers store microseconds. (A `number` holds microseconds exactly up to year
 * 2255; beyond that ordering stays right while equality may merge neighbours.)
 */
export declare function datetimeKey(value: string): number;
/** A uuid in the one form the servers compare: 32 lowercase hex digits. */
export declare function uuidKey(value: string): string;
export declare const text: ValueType<string>;
export declare const int: ValueType<number>;
export declare const float: ValueType<number>;
export declare const bigint: ValueType<bigint>;
export declare const bool: ValueType<boolean>;
export declare const datetime: ValueType<string>;
export declare const date: ValueType<string>;
export declare const uuid: ValueType<string>;
/** Enums have no order operators and are not sorted on: only equality counts, which the text order gives. */
export declare const enumeration: ValueType<string>;
/** Json fields are only ever tested for null. */
export declare const json: ValueType<unknown>;
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
export declare function related(truth: Truth, filter: object | null | undefined): Truth;
/** Whether `filter` goes through one of the model's `relations` anywhere (its `AND`, `OR` and `NOT` included). */
export declare function followsRelations(filter: object | null | undefined, relations: readonly {
    readonly name: string;
}[]): boolean;
/**
 * One field's operators applied to a record's value (`null`: the field is null), ANDed into `truth`, as the server's
 * SQL evaluates them: a comparison with NULL is unknown, `in []` is false and `notIn []` true. An operator that is
 * absent or `null` is no condition, as when the server reads it.
 */
export declare function field<T>(truth: Truth, ops: FieldOperators<T> | null | undefined, value: T | null, type: ValueType<T>): Truth;
/** `AND`: every nested filter holds. */
export declare function all<F>(truth: Truth, filters: readonly F[] | null | undefined, each: (filter: F) => Truth): Truth;
/** `OR`: at least one nested filter holds (no nested filter: no condition). */
export declare function any<F>(truth: Truth, filters: readonly F[] | null | undefined, each: (filter: F) => Truth): Truth;
/** `NOT`: no nested filter holds. */
export declare function none<F>(truth: Truth, filters: readonly F[] | null | undefined, each: (filter: F) => Truth): Truth;
/** The types of a model's orderable fields, by field name. */
export type SortColumns = {
    readonly [field: string]: ValueType<never>;
};
/**
 * Sorts two records as the server sorts a list with these keys: key by key (NULLs first ascending, last
 * descending), then by the id, ascending unless a key on the id says otherwise.
 */
export declare function compareRecords<R extends object>(keys: readonly object[], a: R, b: R, columns: SortColumns, idField: string, idType: ValueType<never>): number;
