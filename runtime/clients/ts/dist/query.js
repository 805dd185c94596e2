// Typed list queries (filter operators chosen by a field's type, sort keys) and their evaluation on records, with
// exactly the server's semantics: SQL's three-valued logic for nulls, text compared by code point (the servers
// compare UTF-8 bytes: SQLite's BINARY collation, PostgreSQL's `COLLATE "C"`), times compared as instants, NULLs
// first ascending and last descending, the id as the last sort key. Live lists apply events with it; each model's
// generated `truth` and `compare` call it field by field.
/** `a AND b` in SQL. */
export function and(a, b) {
    if (a === false || b === false) {
        return false;
    }
    return a === true && b === true ? true : null;
}
/** `a OR b` in SQL. */
export function or(a, b) {
    if (a === true || b === true) {
        return true;
    }
    return a === false && b === false ? false : null;
}
/** `NOT a` in SQL. */
export function not(a) {
    return a === null ? null : !a;
}
/**
 * Text by code point, as the servers compare UTF-8 bytes. JavaScript's `<` compares UTF-16 code units, which puts
 * U+E000..U+FFFF after the surrogate pairs of U+10000 and above; the first differing unit is remapped so that
 * surrogates sort above every other unit.
 */
export function compareText(a, b) {
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
function codePointRank(unit) {
    if (unit >= 0xe000) {
        return unit - 0x800;
    }
    return unit >= 0xd800 ? unit + 0x2000 : unit;
}
function compareNumbers(a, b) {
    return a < b ? -1 : a > b ? 1 : a === b ? 0 : Number.NaN;
}
function compareBigInts(a, b) {
    return a < b ? -1 : a > b ? 1 : 0;
}
const DATE = /^([+-]?[0-9]{4,})-([0-9]{2})-([0-9]{2})$/;
const DATETIME = /^([+-]?[0-9]{4,})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?([Zz]|[+-][0-9]{2}:?[0-9]{2})$/;
/** Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`). */
function daysFromCivil(year, month, day) {
    const y = month <= 2 ? year - 1 : year;
    const era = Math.floor(y / 400);
    const yoe = y - era * 400;
    const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
    const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
    return era * 146097 + doe - 719468;
}
/** A `date` (`2026-11-26`) as days since the epoch; `NaN` if it is not one. */
export function dateKey(value) {
    const m = DATE.exec(value);
    return m ? daysFromCivil(Number(m[1]), Number(m[2]), Number(m[3])) : Number.NaN;
}
/**
 * A `datetime` (RFC 3339, any offset) as microseconds since the epoch; `NaN` if it is not one. Digits below the
 * microsecond are dropped, as both servers store microseconds. (A `number` holds microseconds exactly up to year
 * 2255; beyond that ordering stays right while equality may merge neighbours.)
 */
export function datetimeKey(value) {
    const m = DATETIME.exec(value);
    if (!m) {
        return Number.NaN;
    }
    const [, year, month, day, hour, minute, second, fraction, zone] = m;
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
export function uuidKey(value) {
    return value.toLowerCase().replace(/^urn:uuid:/, "").replace(/[{}-]/g, "");
}
export const text = { compare: compareText };
export const int = { compare: compareNumbers };
export const float = { compare: compareNumbers };
export const bigint = { compare: compareBigInts };
export const bool = { compare: (a, b) => Number(a) - Number(b) };
export const datetime = { compare: (a, b) => compareNumbers(datetimeKey(a), datetimeKey(b)) };
export const date = { compare: (a, b) => compareNumbers(dateKey(a), dateKey(b)) };
export const uuid = { compare: (a, b) => compareText(uuidKey(a), uuidKey(b)) };
/** Enums have no order operators and are not sorted on: only equality counts, which the text order gives. */
export const enumeration = { compare: compareText };
/** Json fields are only ever tested for null. */
export const json = { compare: () => Number.NaN };
/**
 * A relation filter's part of a record's truth: the related rows are not in the record, so a set relation filter is
 * unknown (`false` and unknown is still `false`). A live list with such a filter reads its page again on changes
 * instead of applying them (`follow.ts`).
 */
export function related(truth, filter) {
    return filter === undefined || filter === null ? truth : and(truth, null);
}
/** Whether `filter` goes through one of the model's `relations` anywhere (its `AND`, `OR` and `NOT` included). */
export function followsRelations(filter, relations) {
    if (filter === undefined || filter === null) {
        return false;
    }
    return Object.entries(filter).some(([key, value]) => key === "AND" || key === "OR" || key === "NOT"
        ? Array.isArray(value) && value.some((f) => followsRelations(f, relations))
        : relations.some((r) => r.name === key) && value !== undefined && value !== null);
}
/**
 * One field's operators applied to a record's value (`null`: the field is null), ANDed into `truth`, as the server's
 * SQL evaluates them: a comparison with NULL is unknown, `in []` is false and `notIn []` true. An operator that is
 * absent or `null` is no condition, as when the server reads it.
 */
export function field(truth, ops, value, type) {
    if (ops === null || ops === undefined) {
        return truth;
    }
    const compare = (operand, accept) => value === null ? null : accept(type.compare(value, operand));
    const equal = (ordering) => ordering === 0;
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
    const haystack = value;
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
export function all(truth, filters, each) {
    for (const filter of filters ?? []) {
        truth = and(truth, each(filter));
    }
    return truth;
}
/** `OR`: at least one nested filter holds (no nested filter: no condition). */
export function any(truth, filters, each) {
    if (filters === null || filters === undefined || filters.length === 0) {
        return truth;
    }
    let some = false;
    for (const filter of filters) {
        some = or(some, each(filter));
    }
    return and(truth, some);
}
/** `NOT`: no nested filter holds. */
export function none(truth, filters, each) {
    for (const filter of filters ?? []) {
        truth = and(truth, not(each(filter)));
    }
    return truth;
}
/** Orders two values of a sort key as the server does: NULLs first ascending and last descending. */
function compareNullsFirst(a, b, type, order) {
    let ascending;
    if (a === null || b === null) {
        ascending = a === null ? (b === null ? 0 : -1) : 1;
    }
    else {
        const ordering = type.compare(a, b);
        ascending = Number.isNaN(ordering) ? 0 : ordering;
    }
    return order === "desc" ? -ascending : ascending;
}
/**
 * Sorts two records as the server sorts a list with these keys: key by key (NULLs first ascending, last
 * descending), then by the id, ascending unless a key on the id says otherwise.
 */
export function compareRecords(keys, a, b, columns, idField, idType) {
    const left = a;
    const right = b;
    let idOrder = "asc";
    for (const key of keys) {
        for (const [name, order] of Object.entries(key)) {
            if (name === idField) {
                idOrder = order;
                continue;
            }
            const type = columns[name];
            if (type === undefined) {
                continue;
            }
            const ordering = compareNullsFirst(left[name] ?? null, right[name] ?? null, type, order);
            if (ordering !== 0) {
                return ordering;
            }
        }
    }
    return compareNullsFirst(left[idField] ?? null, right[idField] ?? null, idType, idOrder);
}
