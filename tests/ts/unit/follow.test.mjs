// Unit tests of the relation walk of live lists that read through relations (runtime/clients/ts/dist/follow.js):
// which models' channels a query's `include` and `where` make a live list follow. The same cases as the Rust
// client's (runtime/src/client/follow.rs).

import { test } from "node:test";
import assert from "node:assert/strict";

import { followedChannels } from "../../../runtime/clients/ts/dist/follow.js";
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
