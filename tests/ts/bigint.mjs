// Bigints beyond 2^53 round-trip exactly through the generated TypeScript client: run by
// tests/typescript_crosscheck.rs against the server of tests/fixtures/evaluation.yaml:
//
//   node bigint.mjs <clients/ts dir> <server base url>
//
// Creates rows whose bigint fields hold values a JavaScript number cannot, reads them back (one by one, in a list,
// filtered and sorted by them), patches them, and prints `BIGINT OK`; throws otherwise.

import assert from "node:assert/strict";
import path from "node:path";
import { pathToFileURL } from "node:url";

const [dir, base] = process.argv.slice(2);
const { createClient } = await import(pathToFileURL(path.join(dir, "dist/index.js")).href);
const api = createClient({ url: base, realtime: false });

const values = [9223372036854775807n, -9223372036854775808n, 9007199254740993n, -9007199254740993n];
const row = (big, bigo) => ({
  name: `bigint ${big}`,
  count: 1,
  big,
  bigo,
  ratio: 0.5,
  flag: true,
  ref: "00000000-0000-4000-8000-000000000001",
  at: "2026-01-01T00:00:00Z",
  day: "2026-01-01",
  kind: "alpha",
});
const made = [];
for (const big of values) {
  const created = await api.rows.create(row(big, big + 1n > 9223372036854775807n ? null : big + 1n));
  assert.equal(typeof created.big, "bigint");
  assert.equal(created.big, big, "the create's answer");
  made.push(created);
}
for (const created of made) {
  assert.deepEqual(await api.rows.get(created.id), created, "a read");
}
// The random rows of the cross-check hold such values too: only this script's rows, by their names.
const mine = { name: { startsWith: "bigint " } };
const page = await api.rows.list({ where: { ...mine, big: { in: values } }, orderBy: [{ big: "desc" }], take: 100 });
const bigs = page.items.map((r) => r.big);
assert.deepEqual(bigs, [...values].sort((a, b) => (a < b ? 1 : a > b ? -1 : 0)), "filtered and sorted by the server");
const one = await api.rows.list({ where: { ...mine, big: { equals: 9007199254740993n } } });
assert.ok(one.items.length === 1 && one.items[0].big === 9007199254740993n, "equals beyond 2^53");
assert.ok(!one.items.some((r) => r.big === 9007199254740992n), "its neighbour is another value");
const patched = await api.rows.patch(made[2].id, { bigo: null, big: 9007199254740995n });
assert.equal(patched.big, 9007199254740995n);
assert.equal(patched.bigo, null);
console.log("BIGINT OK");
