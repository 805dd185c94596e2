// Unit tests of the runtime's filter and order evaluation (runtime/clients/ts/dist/query.js): the server's SQL
// semantics case by case. The same evaluation is compared with the Rust client's and the database's on random rows
// by tests/typescript_crosscheck.rs.

import { test } from "node:test";
import assert from "node:assert/strict";

import * as q from "../../../runtime/clients/ts/dist/query.js";

const truth = (ops, value, type) => q.field(true, ops, value, type);

test("three-valued logic", () => {
  assert.equal(q.and(true, null), null);
  assert.equal(q.and(false, null), false);
  assert.equal(q.or(true, null), true);
  assert.equal(q.or(false, null), null);
  assert.equal(q.not(null), null);
  // NOT of an unknown comparison is unknown, so `not` never matches a null field.
  assert.equal(q.none(true, [{}], () => null), null);
  assert.equal(q.any(true, [], () => false), true, "an empty OR is no condition");
  assert.equal(q.all(true, [], () => false), true);
});

test("comparisons with null are unknown; isNull is not", () => {
  assert.equal(truth({ equals: "a" }, null, q.text), null);
  assert.equal(truth({ not: "a" }, null, q.text), null);
  assert.equal(truth({ in: [] }, null, q.text), false, "in [] is false even for null");
  assert.equal(truth({ notIn: [] }, null, q.text), true, "notIn [] is true even for null");
  assert.equal(truth({ in: ["a"] }, null, q.text), null);
  assert.equal(truth({ contains: "" }, null, q.text), null);
  assert.equal(truth({ isNull: true }, null, q.text), true);
  assert.equal(truth({ isNull: false }, null, q.text), false);
  assert.equal(truth({ isNull: true, equals: "a" }, null, q.text), null);
  assert.equal(truth({ isNull: false, equals: "b" }, "a", q.text), false);
  assert.equal(truth({ equals: null, lt: undefined }, "a", q.text), true, "absent or null operators are no condition");
});

test("text compares by code point, case-sensitive", () => {
  // U+FFFD sorts before U+1F600 by code point, after it by UTF-16 code unit.
  assert.ok(q.compareText("\uFFFD", "\u{1F600}") < 0);
  assert.ok("\uFFFD" > "\u{1F600}", "JavaScript's own order differs");
  assert.ok(q.compareText("\uE000", "\uD7FF") > 0);
  assert.ok(q.compareText("B", "a") < 0);
  assert.ok(q.compareText("ab", "abc") < 0);
  assert.equal(q.compareText("é", "é"), 0);
  assert.equal(truth({ lt: "\u{1F600}" }, "\uFFFD", q.text), true);
  assert.equal(truth({ contains: "Hi" }, "oh hi", q.text), false);
  assert.equal(truth({ startsWith: "", endsWith: "" }, "x", q.text), true);
  assert.equal(truth({ gte: "b", lt: "c" }, "bz", q.text), true);
});

test("times compare as instants, whatever their offset and digits", () => {
  assert.equal(q.datetime.compare("2026-01-01T00:00:00Z", "2026-01-01T01:00:00+01:00"), 0);
  assert.ok(q.datetime.compare("2026-01-01T00:00:03Z", "2026-01-01T00:00:03.5Z") < 0, "text order would say otherwise");
  assert.equal(q.datetime.compare("2026-01-01T00:00:03.500Z", "2026-01-01T00:00:03.5Z"), 0);
  assert.equal(q.datetime.compare("2026-01-01T00:00:00.0000001Z", "2026-01-01T00:00:00Z"), 0, "below a microsecond");
  assert.ok(q.datetime.compare("1969-12-31T23:59:59.999999Z", "1970-01-01T00:00:00Z") < 0);
  assert.ok(q.datetime.compare("2024-02-29T12:00:00-12:00", "2024-03-01T00:00:00Z") === 0);
  assert.ok(Number.isNaN(q.datetime.compare("yesterday", "2024-03-01T00:00:00Z")));
  assert.ok(q.date.compare("2024-02-29", "2024-03-01") < 0);
  assert.ok(q.date.compare("0999-12-31", "1000-01-01") < 0);
});

test("uuids compare in their canonical form; enums for equality only", () => {
  assert.equal(truth({ equals: "5F0C0000-0000-4000-8000-000000000001" }, "5f0c0000-0000-4000-8000-000000000001", q.uuid), true);
  assert.equal(truth({ in: ["x", "b"] }, "b", q.enumeration), true);
  assert.equal(truth({ not: "b" }, "a", q.enumeration), true);
  assert.equal(truth({ not: "b" }, "b", q.enumeration), false);
});

test("numbers and bigints", () => {
  assert.equal(truth({ gt: 9007199254740992n }, 9007199254740993n, q.bigint), true);
  assert.equal(truth({ equals: 0 }, -0, q.float), true);
  assert.equal(truth({ lte: 1.5, gte: -1.5 }, 1.5, q.float), true);
  assert.equal(truth({ notIn: [1, 2] }, 3, q.int), true);
});

test("records sort key by key, nulls first ascending and last descending, then by id", () => {
  const columns = { at: q.datetime, n: q.int };
  const rows = [
    { id: 3, at: null, n: 1 },
    { id: 1, at: "2026-01-01T00:00:00Z", n: 1 },
    { id: 2, at: "2026-01-01T00:00:00.5Z", n: 2 },
    { id: 4, at: null, n: 2 },
  ];
  const sorted = (keys) => [...rows].sort((a, b) => q.compareRecords(keys, a, b, columns, "id", q.int)).map((r) => r.id);
  assert.deepEqual(sorted([{ at: "asc" }]), [3, 4, 1, 2]);
  assert.deepEqual(sorted([{ at: "desc" }]), [2, 1, 3, 4]);
  assert.deepEqual(sorted([{ n: "desc" }, { at: "asc" }]), [4, 2, 3, 1]);
  assert.deepEqual(sorted([{ n: "asc" }, { id: "desc" }]), [3, 1, 4, 2], "a key on the id sets the tie-break's direction");
  assert.deepEqual(sorted([]), [1, 2, 3, 4]);
});
