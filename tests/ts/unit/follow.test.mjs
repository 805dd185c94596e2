// Unit tests of live lists that read through relations: the relation walk (runtime/clients/ts/dist/follow.js), which
// models' channels a query's `include` and `where` make a live list follow (the Rust client's cases,
// runtime/src/client/follow.rs), and such a list on a scripted socket (dist/live.js).

import { test } from "node:test";
import assert from "node:assert/strict";

import { followedChannels } from "../../../runtime/clients/ts/dist/follow.js";
import { LiveList } from "../../../runtime/clients/ts/dist/live.js";
import { ProtocolError } from "../../../runtime/clients/ts/dist/errors.js";

// A small graph: messages have an author, a room and a secret (not realtime); rooms have messages and an owner.
const relation = (name, model, channel, relations) => ({ name, model, channel, relations });
const user = [];
const message = [
  relation("author", "User", "User:list", () => user),
  relation("room", "Room", "Room:list", () => room),
  relation("secret", "Secret", null, () => user),
];
const room = [
  relation("messages", "Message", "Message:list", () => message),
  relation("owner", "User", "User:list", () => user),
];

const models = (filter, include) => [...followedChannels(message, filter, include).keys()].sort();

test("a query without relations follows nothing", () => {
  assert.deepEqual(models({ text: { equals: "author" }, author: "not an operator" }, undefined), []);
  assert.deepEqual(models(undefined, " "), []);
  assert.deepEqual(models(null, null), []);
  assert.deepEqual(models({ author: { equals: "x" }, room: { is: null } }, undefined), [], "no relation operator");
});

test("include paths follow every level, with their channels", () => {
  assert.deepEqual(models(undefined, "author"), ["User"]);
  assert.deepEqual(models(undefined, "room.messages, author"), ["Message", "Room", "User"]);
  assert.deepEqual(models(undefined, "room.owner"), ["Room", "User"]);
  // Unknown names are the server's to refuse.
  assert.deepEqual(models(undefined, "nothing.at.all,room.nothing"), ["Room"]);
  assert.deepEqual(Object.fromEntries(followedChannels(message, undefined, "room.owner")), { Room: "Room:list", User: "User:list" });
});

test("the object form follows nested includes and a to-many's own where", () => {
  assert.deepEqual(models(undefined, { room: true }), ["Room"]);
  assert.deepEqual(models(undefined, { room: { include: { owner: true } } }), ["Room", "User"]);
  assert.deepEqual(models(undefined, { author: false, room: { include: { messages: { where: { author: { is: {} } } } } } }), [
    "Message",
    "Room",
    "User",
  ]);
  // The object form as JSON text, as the REST parameter takes it.
  assert.deepEqual(models(undefined, ' {"room":{"include":{"owner":true}}}'), ["Room", "User"]);
  assert.throws(() => models(undefined, "{not json"), ProtocolError);
});

test("filters follow relations inside combinators and operators, recursively", () => {
  assert.deepEqual(models({ author: { is: { name: { equals: "ada" } } } }), ["User"]);
  assert.deepEqual(models({ AND: [{ text: { contains: "x" } }, { room: { isNot: { owner: { is: {} } } } }] }), ["Room", "User"]);
  assert.deepEqual(models({ OR: [{ room: { is: { messages: { some: {} } } } }] }), ["Message", "Room"]);
  assert.deepEqual(models({ NOT: { author: { is: {} } } }), ["User"], "a combinator holding one filter");
  assert.deepEqual(models({ room: { is: { messages: { every: { author: { is: {} } } } } } }), ["Message", "Room", "User"]);
  assert.deepEqual(models({ room: { is: { messages: { none: {} } } } }), ["Message", "Room"]);
  // Both the filter and the include.
  assert.deepEqual(models({ author: { is: {} } }, "room"), ["Room", "User"]);
});

test("a relation to a model that is not realtime is an error naming it", () => {
  for (const [filter, include] of [
    [undefined, "secret"],
    [undefined, { secret: true }],
    [{ secret: { is: {} } }, undefined],
    [{ OR: [{ secret: { isNot: {} } }] }, undefined],
  ]) {
    assert.throws(
      () => models(filter, include),
      (error) => error instanceof ProtocolError && error.message.includes("`secret`") && error.message.includes("Secret is not realtime"),
    );
  }
  // A relation of a related model is checked too.
  const roomWithSecret = [relation("latest", "Message", "Message:list", () => message)];
  assert.throws(() => followedChannels(roomWithSecret, undefined, "latest.secret"), /`secret`/);
});

// A live list that reads through relations, on a scripted socket: which channels it listens to, one read per batch
// of events newer than its page, related refusals ignored, a drop and a resubscription read again.
class FakeWs {
  constructor() {
    this.listeners = new Map();
    this.requests = [];
    this.seq = 10;
  }
  listen(channel, listener) {
    this.listeners.set(channel, listener);
    return () => this.listeners.delete(channel);
  }
  request(model, action, params) {
    this.requests.push({ model, action, params });
    const items = [{ id: 1, text: `read ${this.requests.length}`, author: { id: 7, name: "ada" } }];
    return Promise.resolve({ data: { items, total: 1, skip: 0, take: 20 }, seq: this.seq });
  }
  emit(channel, event) {
    this.listeners.get(channel)(event);
  }
}

const messageSpec = {
  name: "Message",
  route: "/api/messages",
  listChannel: "Message:list",
  itemChannelPrefix: "Message:item:",
  idField: "id",
  decode: (raw) => ({ id: raw.id, text: raw.text }),
  decodeIncluded: (raw) => ({ id: raw.id, text: raw.text, author: raw.author }),
  truth: () => true,
  relations: message,
  compare: () => 0,
};
const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

test("a live list through relations reads again once per batch, ignores related refusals, reads after a drop", async () => {
  const ws = new FakeWs();
  const host = { ws, http: null, onWrite: () => () => undefined };
  const related = followedChannels(message, undefined, "author,room");
  const live = new LiveList(host, messageSpec, { take: 20 }, { include: "author,room", related });
  assert.deepEqual([...ws.listeners.keys()].sort(), ["Message:list", "Room:list", "User:list"]);
  await live.loaded(1000);
  assert.deepEqual(ws.requests, [{ model: "Message", action: "list", params: { take: 20, include: "author,room" } }]);
  assert.equal(live.snapshot().items[0].author.name, "ada", "decoded with its relations");
  assert.ok(live.snapshot().fresh);

  // Events at or below the page's sequence number are in it already.
  ws.emit("User:list", { type: "update", seq: 10, kind: "updated", id: "7", data: {} });
  await settle();
  assert.equal(ws.requests.length, 1);
  // Three newer events, on three channels, queued together: one read.
  ws.seq = 13;
  ws.emit("User:list", { type: "update", seq: 11, kind: "updated", id: "7", data: {} });
  ws.emit("Room:list", { type: "update", seq: 12, kind: "deleted", id: "3", data: {} });
  ws.emit("Message:list", { type: "update", seq: 13, kind: "created", id: "2", data: {} });
  await live.when((s) => s.seq === 13, 1000);
  assert.equal(ws.requests.length, 2);
  assert.equal(live.snapshot().items[0].text, "read 2");

  // A related channel the caller may not read is ignored; the list stays live.
  ws.emit("Room:list", { type: "refused", error: { code: "forbidden", message: "no" } });
  await settle();
  assert.equal(live.snapshot().error, null);
  assert.ok(live.snapshot().fresh);

  // A drop: not fresh; the resubscription (resumed or not) reads again.
  ws.emit("Message:list", { type: "disconnected" });
  await settle();
  assert.equal(live.snapshot().fresh, false);
  ws.emit("User:list", { type: "subscribed", seq: 13, resumed: true, since: 11 });
  await live.when((s) => s.fresh, 1000);
  assert.equal(ws.requests.length, 3);

  // Refused on its own channel: the list's error, as for any live list.
  ws.emit("Message:list", { type: "refused", error: { code: "forbidden", message: "no" } });
  await live.when((s) => s.error !== null, 1000);
  assert.equal(live.snapshot().error.code, "forbidden");
  live.close();
});
