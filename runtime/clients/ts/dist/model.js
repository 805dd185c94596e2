// What the runtime knows of a model: its generated types and the generated spec (routes, channels, how to decode
// a record, how to evaluate its filter and order). One spec per model is generated in `models.ts`.
import { ProtocolError } from "./errors.js";
/** The id of a record as it prints (as events and channels carry it). */
export function idString(model, record) {
    return String(record[model.idField]);
}
/** A list answer, decoded; throws `ProtocolError` on another shape. */
export function decodePage(model, raw) {
    return decodeItems(model, raw, (item) => decodeRecord(model, item));
}
/** A list answer with included relations, decoded; throws `ProtocolError` on another shape. */
export function decodeIncludedPage(model, raw) {
    return decodeItems(model, raw, (item) => decodeIncludedRecord(model, item));
}
function decodeItems(model, raw, decode) {
    const page = raw;
    if (typeof page !== "object" ||
        page === null ||
        !Array.isArray(page.items) ||
        typeof page.total !== "number" ||
        typeof page.skip !== "number" ||
        typeof page.take !== "number") {
        throw new ProtocolError(`unexpected list answer for ${model.name}`);
    }
    return { items: page.items.map(decode), total: page.total, skip: page.skip, take: page.take };
}
/** A record, decoded; throws `ProtocolError` on another shape. */
export function decodeRecord(model, raw) {
    return decodeWith(model, raw, model.decode);
}
/** A record with included relations, decoded; throws `ProtocolError` on another shape. */
export function decodeIncludedRecord(model, raw) {
    return decodeWith(model, raw, model.decodeIncluded);
}
function decodeWith(model, raw, decode) {
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
        throw new ProtocolError(`unexpected ${model.name} record: ${JSON.stringify(raw)}`);
    }
    try {
        return decode(raw);
    }
    catch (error) {
        throw new ProtocolError(`unexpected ${model.name} record: ${error instanceof Error ? error.message : String(error)}`);
    }
}
