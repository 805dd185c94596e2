// Unit tests of the WebSocket transport (runtime/clients/ts/dist/ws.js) against a scripted socket: how the token
// travels, 4401 handling, resubscription with `since`, pending requests failing at once, failed handshakes, backoff.
// The same transport against the real server: tests/ts/node/client.test.mjs.

import { test } from "node:test";
import assert from "node:assert/strict";

import { AuthError, DisconnectedError } from "../../../runtime/clients/ts/dist/errors.js";
import { WsTransport } from "../../../runtime/clients/ts/dist/ws.js";

/** A WebSocket whose server side the test plays. */
class FakeSocket {
  static made = [];
  constructor(url, protocols) {
    this.url = url;
    this.protocols = protocols;
    this.readyState = 0;
    this.sent = [];
    this.onopen = this.onmessage = this.onclose = this.onerror = null;
    FakeSocket.made.push(this);
  }
  send(data) {
    this.sent.push(JSON.parse(data));
  }
  close() {
    this.readyState = 3;
  }
  // The server's side:
  open() {
    this.readyState = 1;
    this.onopen?.({});
  }
  say(message) {
    this.onmessage?.({ data: JSON.stringify(message) });
  }
  drop(code = 1006, reason = "") {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
}

const tick = (ms = 0) => new Promise((resolve) => setTimeout(resolve, ms));
const last = () => FakeSocket.made[FakeSocket.made.length - 1];

function transport(options = {}) {
  FakeSocket.made = [];
  return new WsTransport({ url: "http://example.test:1", token: () => "tok.en", timeoutMs: 1000, WebSocket: FakeSocket, random: () => 0, ...options });
}

test("the token travels as a subprotocol, or as the first frame when it cannot", async () => {
  const ws = transport();
  await tick();
  assert.equal(last().url, "ws://example.test:1/ws");
  assert.deepEqual(last().protocols, ["ssot.v1", "bearer.tok.en"]);
  ws.close();

  const spaced = transport({ token: () => "a token with spaces" });
  await tick();
  assert.equal(last().protocols, undefined);
  last().open();
  assert.deepEqual(last().sent[0], { type: "auth", token: "a token with spaces" });
  spaced.close();
});

test("4401 asks the provider once more; refused again, the transport stops", async () => {
  let asked = 0;
  const ws = transport({ token: () => `t${++asked}` });
  await tick();
  last().open();
  last().drop(4401, "bad token");
  await tick();
  assert.equal(asked, 2, "asked anew");
  assert.deepEqual(last().protocols, ["ssot.v1", "bearer.t2"]);
  last().open();
  last().drop(4401, "still bad");
  await tick(20);
  assert.equal(ws.state.status, "failed");
  assert.ok(ws.state.error instanceof AuthError);
  assert.equal(FakeSocket.made.length, 2, "no blind retry");
});

test("a connection that got to ready refreshes again after a later 4401 (an expired token)", async () => {
  let asked = 0;
  const ws = transport({ token: () => `t${++asked}` });
  await tick();
  last().open();
  last().drop(4401);
  await tick();
  last().open();
  last().say({ type: "ready", seq: 1 });
  last().drop(4401, "the token expired");
  await tick();
  assert.equal(asked, 3);
  assert.notEqual(ws.state.status, "failed");
  ws.close();
});

test("requests in flight fail at once when the socket drops; channels resubscribe with since", async () => {
  const ws = transport({ backoff: { baseMs: 1, capMs: 1 } });
  await tick();
  const events = [];
  ws.listen("Room:list", (event) => events.push(event));
  last().open();
  last().say({ type: "ready", seq: 5 });
  assert.deepEqual(last().sent.at(-1), { type: "subscribe", channel: "Room:list" });
  last().say({ type: "subscribed", channel: "Room:list", seq: 5 });
  last().say({ type: "update", channel: "Room:list", seq: 7, kind: "created", id: "1", data: { id: 1 } });
  last().say({ type: "update", channel: "Room:list", seq: 7, kind: "created", id: "1", data: { id: 1 } });
  assert.equal(events.filter((e) => e.type === "update").length, 1, "a duplicate is dropped");

  const pending = ws.request("Room", "list", {});
  const request = last().sent.at(-1);
  assert.equal(request.type, "request");
  last().drop(1006);
  await assert.rejects(pending, (error) => error instanceof DisconnectedError);
  assert.equal(events.at(-1).type, "disconnected");
  await assert.rejects(ws.request("Room", "list", {}), (error) => error instanceof DisconnectedError);

  await tick(10);
  last().open();
  last().say({ type: "ready", seq: 9 });
  assert.deepEqual(last().sent.at(-1), { type: "subscribe", channel: "Room:list", since: 7 });
  last().say({ type: "subscribed", channel: "Room:list", seq: 9, since: 7, resumed: false });
  assert.deepEqual(events.at(-1), { type: "subscribed", seq: 9, resumed: false, since: 7 });
  ws.close();
});

test("a socket that fails before it opens, or never gets to ready, is retried with backoff", async () => {
  const delays = [];
  const ws = transport({ backoff: { baseMs: 100, capMs: 400 }, random: () => 0.5, timeoutMs: 50 });
  ws.onState((state) => state.status === "reconnecting" && delays.push(state.delayMs));
  await tick();
  last().onerror({}); // Node 20's WebSocket: an error and no close
  assert.equal(ws.state.status, "reconnecting");
  await tick(80);
  assert.equal(FakeSocket.made.length, 2);
  last().open(); // ... and no `ready` within the timeout
  await tick(300);
  assert.ok(FakeSocket.made.length >= 3, "the hanging handshake was given up");
  assert.deepEqual(delays.slice(0, 2), [50, 100], "full jitter of min(cap, base * 2^n)");
  ws.close();
});

test("without a token there is no socket", async () => {
  const ws = transport({ token: () => null });
  await tick();
  assert.equal(FakeSocket.made.length, 0);
  assert.equal(ws.state.status, "offline");
});
