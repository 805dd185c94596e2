// Which other models a live list's query reads through relations: the relations its `include` names (and theirs,
// nested), and those its `where` filters through (`is`, `isNot`, `some`, `every`, `none`, also inside an included
// to-many's own `where`). A committed change to a row of one of them can change the page without any change to the
// list's own rows, so such a live list listens to their channels as well and reads its page again after a change
// (`live.ts`). The same walk as the Rust client's (`client/follow.rs`).
import { ProtocolError } from "./errors.js";
/** The relation operators of a filter: each takes the related model's filter. */
const OPERATORS = ["is", "isNot", "some", "every", "none"];
/**
 * The list channels, by model name, of every model that `filter` (a list's `where`) and `include` (the text form
 * `"author,room.owner"`, that text holding the object form as JSON, or the object form) read through `relations`,
 * the list's model's relations. A relation to a model without a channel cannot be followed (its changes are not
 * announced): that throws a `ProtocolError` naming the relation. Names that are no relation are left to the server,
 * which refuses them on the first read.
 */
export function followedChannels(relations, filter, include) {
    const followed = new Map();
    walkFilter(followed, relations, filter);
    if (typeof include === "string") {
        const text = include.trim();
        if (text.startsWith("{")) {
            let object;
            try {
                object = JSON.parse(text);
            }
            catch (error) {
                throw new ProtocolError(`\`include\` is not valid JSON: ${error instanceof Error ? error.message : String(error)}`);
            }
            walkInclude(followed, relations, object);
        }
        else if (text !== "") {
            for (const path of text.split(",")) {
                let level = relations;
                for (const name of path.trim().split(".")) {
                    level = level === null ? null : follow(followed, level, name);
                }
            }
        }
    }
    else if (include !== null && include !== undefined) {
        walkInclude(followed, relations, include);
    }
    return followed;
}
/** Notes the relation `name` among `relations`, if there is one; returns the related model's relations. */
function follow(followed, relations, name) {
    const relation = relations.find((r) => r.name === name);
    if (relation === undefined) {
        return null;
    }
    if (relation.channel === null) {
        throw new ProtocolError(`a live list cannot follow \`${name}\`: ${relation.model} is not realtime, so its changes are not announced; ` +
            "read it with `listIncluding` or `list` instead");
    }
    followed.set(relation.model, relation.channel);
    return relation.relations();
}
function isObject(value) {
    return typeof value === "object" && value !== null && !Array.isArray(value);
}
function walkFilter(followed, relations, filter) {
    if (!isObject(filter)) {
        return;
    }
    for (const [key, value] of Object.entries(filter)) {
        if (key === "AND" || key === "OR" || key === "NOT") {
            // Combinators hold filters of the same model: a list, or one.
            for (const inner of Array.isArray(value) ? value : [value]) {
                walkFilter(followed, relations, inner);
            }
            continue;
        }
        if (!isObject(value) || !OPERATORS.some((operator) => value[operator] !== undefined && value[operator] !== null)) {
            continue; // a field's own filter (`equals`, `in`, ...), or nothing
        }
        const related = follow(followed, relations, key);
        if (related !== null) {
            for (const operator of OPERATORS) {
                walkFilter(followed, related, value[operator]);
            }
        }
    }
}
function walkInclude(followed, relations, include) {
    if (!isObject(include)) {
        return;
    }
    for (const [name, options] of Object.entries(include)) {
        if (options === false || options === undefined || options === null) {
            continue;
        }
        const related = follow(followed, relations, name);
        // `true`, or the relation's options: a to-many's own `where`, and what it includes in turn.
        if (related !== null && isObject(options)) {
            walkFilter(followed, related, options.where);
            walkInclude(followed, related, options.include);
        }
    }
}
