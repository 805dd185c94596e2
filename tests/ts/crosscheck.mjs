// The TypeScript client's evaluation of list queries (the generated `truth` and `compare` of a model spec) on rows as
// the server returns them, for tests/typescript_crosscheck.rs:
//
//   node crosscheck.mjs <clients/ts dir> <input.json>
//
// The input is `{"rows": [...], "cases": [{"where": ..., "orderBy": [...]}], "bigint": ["big", ...]}`; filter operands
// of the fields named in `bigint` become `bigint` values, as a TypeScript caller writes them. Prints, per case, the
// ids of the matching rows in the query's order, as a JSON list of lists.

import { readFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const [dir, input] = process.argv.slice(2);
const { models } = await import(pathToFileURL(path.join(dir, "dist/index.js")).href);
const spec = models.Row;
const { rows, cases, bigint } = JSON.parse(readFileSync(input, "utf8"));
const records = rows.map((row) => spec.decode(row));

const big = (value) => (Array.isArray(value) ? value.map(BigInt) : typeof value === "boolean" ? value : BigInt(value));
/** The filter as a TypeScript caller writes it: bigint operands as `bigint`. */
function typed(filter) {
  if (filter === null || typeof filter !== "object") return filter;
  const out = {};
  for (const [key, value] of Object.entries(filter)) {
    if (key === "AND" || key === "OR" || key === "NOT") {
      out[key] = value.map(typed);
    } else if (bigint.includes(key) && value !== null) {
      out[key] = Object.fromEntries(Object.entries(value).map(([op, operand]) => [op, op === "isNull" ? operand : big(operand)]));
    } else {
      out[key] = value;
    }
  }
  return out;
}

const answers = cases.map((c) => {
  const filter = typed(c.where);
  return records
    .filter((record) => filter === null || spec.truth(filter, record) === true)
    .sort((a, b) => spec.compare(c.orderBy, a, b))
    .map((record) => record.id);
});
console.log(JSON.stringify(answers));
