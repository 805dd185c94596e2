// Unit tests of the reconnection delays (runtime/clients/ts/dist/backoff.js).

import { test } from "node:test";
import assert from "node:assert/strict";

import { backoffBound, backoffDelay } from "../../../runtime/clients/ts/dist/backoff.js";

/** A seeded random source (mulberry32), so that the spread is the same on every run. */
function seeded(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test("bounds double from the base up to the cap, without overflow", () => {
  const b = { baseMs: 100, capMs: 5000 };
  assert.equal(backoffBound(b, 0), 100);
  assert.equal(backoffBound(b, 3), 800);
  assert.equal(backoffBound(b, 10), 5000);
  assert.equal(backoffBound(b, 5000), 5000);
  assert.equal(backoffDelay(b, 4, 0), 0);
  assert.equal(backoffDelay(b, 4, 0.5), 800);
});

test("full jitter spreads delays over the whole range", () => {
  const b = { baseMs: 100, capMs: 5000 };
  const random = seeded(7);
  for (let attempt = 0; attempt < 12; attempt++) {
    const bound = backoffBound(b, attempt);
    const delays = Array.from({ length: 200 }, () => backoffDelay(b, attempt, random()));
    assert.ok(delays.every((d) => d >= 0 && d <= bound), `attempt ${attempt}`);
    const low = delays.filter((d) => d < bound / 4).length;
    const high = delays.filter((d) => d > (bound * 3) / 4).length;
    assert.ok(low > 20 && high > 20, `attempt ${attempt}: ${low} low, ${high} high`);
  }
});
