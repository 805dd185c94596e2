// The generated TypeScript client of the chat example against the generated server (SQLite or PostgreSQL, as
// tests/typescript_server.rs starts it), run with `node --experimental-websocket --test`: typed CRUD and errors,
// tokens, pending requests failing fast, close(), three live lists converging under two writers while the socket is
// cut and the server restarted (fixed seeds), read-your-writes.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";

import { Proxy, Server, adminToken, loadClient, seeded, sleep, token, until } from "../support.mjs";

const { createClient, HttpError, AuthError, DisconnectedError, ClosedError } = await loadClient();

let server;
before(async () => {
  server = await Server.start();
});
after(async () => {
  await server?.kill();
});

const clients = [];
/** A client, closed when the tests end. */
function client(options) {
  const api = createClient({ timeoutMs: 10_000, ...options });
  clients.push(api);
  return api;
}
after(() => clients.forEach((api) => api.$client.close()));

/** A user with a token, and a room of theirs. */
async function userAndRoom(name) {
  const admin = client({ url: server.base, token: adminToken(), realtime: false });
  const user = await admin.users.create({ email: `${name}-${randomUUID()}@example.com`, name, passwordHash: "x" });
  const userToken = token(user.id);
  const own = client({ url: server.base, token: userToken, realtime: false });
  const room = await own.rooms.create({ title: `${name}'s room` });
  return { user, token: userToken, room: room.id };
}

test("typed CRUD, filters and typed errors", async () => {
  const { token: userToken, room } = await userAndRoom("crud");
  const api = client({ url: server.base, token: userToken, realtime: false });
  const made = [];
  for (const text of ["hi there", "hello", "oh hi", "bye"]) {
    made.push(await api.messages.create({ roomId: room, text }));
  }
  assert.equal(typeof made[0].id, "string");
  assert.equal(made[0].editedAt, null);
  const query = { where: { roomId: { equals: room }, text: { contains: "hi" } }, orderBy: [{ text: "desc" }] };
  const page = await api.messages.list(query);
  assert.deepEqual(page.items.map((m) => m.text), ["oh hi", "hi there"]);
  assert.equal(page.total, 2);
  // The generated evaluation agrees with the server's.
  const all = await api.messages.list({ where: { roomId: { equals: room } } });
  const spec = api.messages.model;
  assert.deepEqual(
    all.items.filter((m) => spec.truth(query.where, m) === true).sort((a, b) => spec.compare(query.orderBy, a, b)),
    page.items,
  );

  assert.deepEqual(await api.messages.get(made[1].id), made[1]);
  const patched = await api.messages.patch(made[1].id, { text: "hello again" });
  assert.equal(patched.text, "hello again");
  const replaced = await api.messages.update(made[2].id, { roomId: room, text: "replaced", editedAt: "2026-01-02T03:04:05.123456Z" });
  assert.equal(replaced.editedAt, "2026-01-02T03:04:05.123456Z");
  await api.messages.delete(made[3].id);
  await assert.rejects(api.messages.get(made[3].id), (error) => error instanceof HttpError && error.status === 404 && error.code === "not_found");
  await assert.rejects(
    api.messages.create({ roomId: room, text: "" }),
    (error) => error instanceof HttpError && error.code === "validation_failed" && error.details.some((d) => d.field === "text"),
  );
  await assert.rejects(
    api.messages.list({ where: { text: { contains: 1 } } }),
    (error) => error instanceof HttpError && error.status === 400 && error.code === "bad_request",
  );
  const anonymous = client({ url: server.base, realtime: false });
  await assert.rejects(anonymous.messages.list(), (error) => error instanceof AuthError);
  assert.equal((await anonymous.rooms.get(room)).id, room, "public reads need no token");
});

test("includes: related rows decoded as typed fields, under their own read rules", async () => {
  const { user, token: userToken, room } = await userAndRoom("include");
  const api = client({ url: server.base, token: userToken, realtime: false });
  const first = await api.messages.create({ roomId: room, text: "first" });
  const reply = await api.messages.create({ roomId: room, text: "a reply", replyToId: first.id });
  const page = await api.messages.listIncluding(
    { where: { roomId: { equals: room } }, orderBy: [{ text: "asc" }] },
    "author,room,replyTo,replies",
  );
  assert.deepEqual(page.items.map((m) => m.text), ["a reply", "first"]);
  const [withReply, withParent] = [page.items[1], page.items[0]];
  assert.equal(withReply.author.name, "include");
  assert.equal(withReply.author.passwordHash, undefined, "hidden fields never come");
  assert.equal(withReply.room.id, room);
  assert.equal(withReply.replyTo, null, "an included to-one with no row is null");
  assert.deepEqual(withReply.replies.map((m) => m.id), [reply.id]);
  assert.equal(withParent.replyTo.id, first.id);
  assert.equal(page.items[0].bookmarks, undefined, "a relation not asked for is absent");
  // The object form: a to-many's own take and order, nested.
  const got = await api.rooms.getIncluding(room, { messages: { take: 1, orderBy: [{ text: "desc" }], include: { author: true } }, owner: true });
  assert.deepEqual(got.messages.map((m) => m.text), ["first"]);
  assert.equal(got.messages[0].author.id, user.id);
  assert.equal(got.owner.id, user.id);
  // Bookmarks are owner-only: another user's bookmark of the message is left out.
  const other = await userAndRoom("include-other");
  const theirs = client({ url: server.base, token: other.token, realtime: false });
  const mark = await theirs.bookmarks.create({ messageId: first.id });
  const marked = await api.messages.getIncluding(first.id, "bookmarks");
  assert.deepEqual(marked.bookmarks, []);
  assert.deepEqual((await theirs.messages.getIncluding(first.id, "bookmarks")).bookmarks.map((b) => b.id), [mark.id]);
  await assert.rejects(
    api.messages.listIncluding({}, "members"),
    (error) => error instanceof HttpError && error.status === 400 && error.code === "bad_request",
  );
});

test("a refused token stops the socket; a provider that refreshes gets in", async () => {
  const started = Date.now();
  const bad = client({ url: server.base, token: "not-a-token" });
  await assert.rejects(bad.$client.ws.waitConnected(10_000), (error) => error instanceof AuthError);
  assert.ok(Date.now() - started < 5000, "it should stop, not loop");
  assert.equal(bad.$client.connection.status, "failed");

  let calls = 0;
  const good = adminToken();
  const refreshing = client({ url: server.base, token: () => (calls++ === 0 ? "stale" : good) });
  await refreshing.$client.ws.waitConnected(10_000);
  assert.ok(calls >= 2);
  // Without a token there is no socket: offline, reads go over HTTP.
  const anonymous = client({ url: server.base });
  await assert.rejects(anonymous.$client.ws.waitConnected(5000), (error) => error instanceof DisconnectedError);
  assert.equal(anonymous.$client.connection.status, "offline");
});

test("pending requests fail at once when the socket drops; close() closes for good", async () => {
  const proxy = await Proxy.start(server.port);
  try {
    const api = client({ url: proxy.base, token: adminToken(), timeoutMs: 20_000 });
    const ws = api.$client.ws;
    await ws.waitConnected(10_000);
    proxy.pause();
    const pending = ws.request("Room", "list", {});
    await sleep(200);
    const cutAt = Date.now();
    proxy.cut();
    await assert.rejects(pending, (error) => error instanceof DisconnectedError);
    assert.ok(Date.now() - cutAt < 3000, `failed after ${Date.now() - cutAt} ms`);
    const started = Date.now();
    await assert.rejects(ws.request("Room", "list", {}), (error) => error instanceof DisconnectedError);
    assert.ok(Date.now() - started < 1000);
    await ws.waitConnected(20_000);

    api.$client.close();
    assert.equal(api.$client.connection.status, "failed");
    assert.ok(api.$client.connection.error instanceof ClosedError);
    await server.restart();
    await sleep(500);
    assert.equal(api.$client.connection.status, "failed", "no reconnect after close()");
    await assert.rejects(ws.request("Room", "list", {}), (error) => error instanceof ClosedError);
  } finally {
    await proxy.close();
  }
});

const ids = (items) => items.map((m) => `${String(m.id).slice(0, 4)}:${m.text ?? m.title}`);

/** Waits until the live list is fresh and equals what the server answers over HTTP. */
async function converged(live, http, query, read = () => http.messages.list(query)) {
  return until(
    `the live list of ${JSON.stringify(query)}`,
    async () => {
      const snapshot = live.snapshot();
      if (!snapshot.fresh) return { fresh: false, items: ids(snapshot.items) };
      const truth = await read();
      const same = JSON.stringify(truth.items) === JSON.stringify(snapshot.items) && truth.total === snapshot.total;
      const differing = snapshot.items.findIndex((item, i) => JSON.stringify(item) !== JSON.stringify(truth.items[i]));
      return same || {
        live: ids(snapshot.items),
        total: snapshot.total,
        server: ids(truth.items),
        serverTotal: truth.total,
        differing: differing < 0 ? null : [snapshot.items[differing], truth.items[differing]],
      };
    },
    30_000,
  );
}

test("three live lists converge under two writers while the socket is cut and the server restarted", async () => {
  const proxy = await Proxy.start(server.port);
  try {
    const { token: userToken, room } = await userAndRoom("live");
    // A second room of the same user: its messages reach the reader's socket and must stay out of the lists.
    const elsewhere = (await client({ url: server.base, token: userToken, realtime: false }).rooms.create({ title: "elsewhere" })).id;
    const reader = client({ url: proxy.base, token: userToken, backoff: { baseMs: 20, capMs: 300 } });
    const http = client({ url: server.base, token: userToken, realtime: false });
    const inRoom = { roomId: { equals: room } };
    const queries = [
      { where: inRoom, orderBy: [{ text: "asc" }], take: 5 },
      { where: { ...inRoom, text: { contains: "a" } }, orderBy: [{ createdAt: "desc" }] },
      { where: inRoom, orderBy: [{ editedAt: "desc" }], skip: 2, take: 4 },
    ];
    await reader.$client.ws.waitConnected(10_000);
    const lives = queries.map((query) => reader.messages.live(query));
    await Promise.all(lives.map((live) => live.loaded(10_000)));
    for (const seed of [1, 2, 3]) {
      const random = seeded(seed);
      const writers = [0, 1].map(async (w) => {
        const rnd = seeded(seed * 100 + w);
        const mine = [];
        // Half of the words contain an "a", so that the second query's filter matters.
        const words = ["alpha", "echo", "gamma", "sky", "omega", "lion", "kappa", "bird"];
        for (let i = 0; i < 25; i++) {
          const text = `${words[Math.floor(rnd() * words.length)]} ${Math.floor(rnd() * 1000)}`;
          const roll = Math.floor(rnd() * 10);
          try {
            if (roll <= 4 || mine.length === 0) {
              const roomId = rnd() < 0.7 ? room : elsewhere;
              mine.push((await http.messages.create({ roomId, text })).id);
            } else if (roll <= 7) {
              const id = mine[Math.floor(rnd() * mine.length)];
              // Edits move rows between the rooms too: into a list and out of it.
              const move = rnd() < 0.2 ? { roomId: rnd() < 0.5 ? room : elsewhere } : {};
              await http.messages.patch(id, { text, editedAt: new Date().toISOString(), ...move });
            } else {
              const id = mine.splice(Math.floor(rnd() * mine.length), 1)[0];
              await http.messages.delete(id);
            }
          } catch {
            // The server may be restarting: the lists must match whatever committed.
          }
          await sleep(Math.floor(rnd() * 15));
        }
      });
      // Meanwhile: drop the reader's connection and restart the server at random points.
      for (let i = 0; i < 3; i++) {
        await sleep(20 + Math.floor(random() * 180));
        if (random() < 0.5) {
          proxy.cut();
        } else {
          await server.restart();
        }
      }
      await Promise.all(writers);
      for (const [i, live] of lives.entries()) {
        await converged(live, http, queries[i]).catch((error) => {
          throw new Error(`seed ${seed}, query ${i}: ${error.message}`);
        });
      }
    }
    lives.forEach((live) => live.close());
  } finally {
    await proxy.close();
  }
});

test("live lists through relations follow a rename, a filter through a to-many, a cascade and a drop", async () => {
  const proxy = await Proxy.start(server.port);
  try {
    const { user, token: userToken, room } = await userAndRoom("through");
    const reader = client({ url: proxy.base, token: userToken, backoff: { baseMs: 20, capMs: 300 } });
    const http = client({ url: server.base, token: userToken, realtime: false });
    await reader.$client.ws.waitConnected(10_000);
    const first = await http.messages.create({ roomId: room, text: "first" });
    await http.messages.create({ roomId: room, text: "second", replyToId: first.id });

    // Messages with their author (and the replied-to message's author): a rename changes no message, yet shows.
    const inRoom = { where: { roomId: { equals: room } }, orderBy: [{ text: "asc" }] };
    const include = "author,replyTo.author";
    const withAuthors = reader.messages.liveIncluding(inRoom, include);
    const readWithAuthors = () => http.messages.listIncluding(inRoom, include);
    await withAuthors.loaded(10_000);
    assert.deepEqual(withAuthors.snapshot().items.map((m) => [m.text, m.author.name, m.replyTo?.author.name ?? null]), [
      ["first", "through", null],
      ["second", "through", "through"],
    ]);
    await http.users.patch(user.id, { name: "renamed" });
    await until("the rename", () => withAuthors.snapshot().items.every((m) => m.author.name === "renamed" && m.replyTo?.author.name !== "through"));
    await converged(withAuthors, http, inRoom, readWithAuthors);

    // Rooms (of this user) with some message mentioning a word: a message's create and delete move its room.
    const needle = `needle${randomUUID().slice(0, 8)}`;
    const mentioning = { where: { ownerId: { equals: user.id }, messages: { some: { text: { contains: needle } } } }, orderBy: [{ id: "asc" }] };
    const rooms = reader.rooms.live(mentioning);
    const readRooms = () => http.rooms.list(mentioning);
    await rooms.loaded(10_000);
    assert.deepEqual(rooms.snapshot().items, []);
    const mention = await http.messages.create({ roomId: room, text: `a ${needle} here` });
    await until("the mention", () => rooms.snapshot().items.map((r) => r.id).join() === String(room));
    await converged(rooms, http, mentioning, readRooms);
    // Served from the live list, which first catches up with this client's own writes.
    assert.deepEqual((await reader.rooms.list(mentioning)).items.map((r) => r.id), [room]);
    await http.messages.delete(mention.id);
    await until("the mention's delete", () => rooms.snapshot().items.length === 0 && rooms.snapshot().total === 0);

    // The object form, filtered through a relation too: a room deleted with its messages (cascade) empties it.
    const doomed = (await http.rooms.create({ title: "doomed" })).id;
    for (const text of ["one", "two", `three ${needle}`]) {
      await http.messages.create({ roomId: doomed, text });
    }
    const inDoomed = { where: { roomId: { equals: doomed }, room: { is: { title: { equals: "doomed" } } } }, orderBy: [{ text: "asc" }] };
    const doomedMessages = reader.messages.liveIncluding(inDoomed, { room: true, author: true });
    await doomedMessages.loaded(10_000);
    assert.deepEqual(doomedMessages.snapshot().items.map((m) => [m.text, m.room.title, m.author.name]), [
      ["one", "doomed", "renamed"],
      [`three ${needle}`, "doomed", "renamed"],
      ["two", "doomed", "renamed"],
    ]);
    await until("the mention in the doomed room", () => rooms.snapshot().items.map((r) => r.id).join() === String(doomed));
    // Renamed while the reader's socket is cut: the resubscription reads the pages again.
    proxy.cut();
    await http.rooms.patch(doomed, { title: "renamed room" });
    await until("the doomed room's rename", () => doomedMessages.snapshot().fresh && doomedMessages.snapshot().items.length === 0);
    await http.rooms.patch(doomed, { title: "doomed" });
    await until("the doomed room's name back", () => doomedMessages.snapshot().items.length === 3);
    await http.rooms.delete(doomed);
    await until("the cascade", () => doomedMessages.snapshot().fresh && doomedMessages.snapshot().items.length === 0);
    assert.equal(doomedMessages.snapshot().total, 0);
    await until("the cascade in the rooms", () => rooms.snapshot().fresh && rooms.snapshot().items.length === 0);
    await converged(withAuthors, http, inRoom, readWithAuthors);
    [withAuthors, rooms, doomedMessages].forEach((live) => live.close());
  } finally {
    await proxy.close();
  }
});

test("live lists through relations converge under two writers who post, reply, edit, delete and rename themselves", async () => {
  const proxy = await Proxy.start(server.port);
  try {
    const owner = await userAndRoom("owner");
    const writers = [await userAndRoom("writer-a"), await userAndRoom("writer-b")];
    const reader = client({ url: proxy.base, token: owner.token, backoff: { baseMs: 20, capMs: 300 } });
    const http = client({ url: server.base, token: owner.token, realtime: false });
    await reader.$client.ws.waitConnected(10_000);
    const word = `word${randomUUID().slice(0, 8)}`;
    const inRoom = { where: { roomId: { equals: owner.room } }, orderBy: [{ createdAt: "asc" }], take: 10 };
    const byName = { where: { roomId: { equals: owner.room }, author: { is: { name: { contains: "a" } } } }, orderBy: [{ text: "asc" }] };
    const rooms = { where: { messages: { some: { text: { contains: word } } } }, orderBy: [{ id: "asc" }] };
    const include = "author,room,replyTo.author";
    const lists = [
      [reader.messages.liveIncluding(inRoom, include), () => http.messages.listIncluding(inRoom, include), inRoom],
      [reader.messages.live(byName), () => http.messages.list(byName), byName],
      [reader.rooms.live(rooms), () => http.rooms.list(rooms), rooms],
    ];
    await Promise.all(lists.map(([live]) => live.loaded(10_000)));
    for (const seed of [1, 2]) {
      const random = seeded(seed);
      const writing = writers.map(async (writer, w) => {
        const rnd = seeded(seed * 100 + w);
        const api = client({ url: server.base, token: writer.token, realtime: false });
        const names = ["ada", "bob", "cyd", "dee"];
        const mine = [];
        for (let i = 0; i < 20; i++) {
          const text = `${rnd() < 0.3 ? word : "plain"} ${Math.floor(rnd() * 1000)}`;
          const roll = Math.floor(rnd() * 10);
          const roomId = rnd() < 0.7 ? owner.room : writer.room;
          if (roll <= 3 || mine.length === 0) {
            const replyToId = mine.length > 0 && rnd() < 0.5 ? mine[Math.floor(rnd() * mine.length)] : null;
            mine.push((await api.messages.create({ roomId, text, replyToId })).id);
          } else if (roll <= 5) {
            await api.messages.patch(mine[Math.floor(rnd() * mine.length)], { text, editedAt: new Date().toISOString() });
          } else if (roll <= 7) {
            await api.users.patch(writer.user.id, { name: names[Math.floor(rnd() * names.length)] });
          } else {
            await api.messages.delete(mine.splice(Math.floor(rnd() * mine.length), 1)[0]);
          }
          await sleep(Math.floor(rnd() * 15));
        }
      });
      for (let i = 0; i < 2; i++) {
        await sleep(20 + Math.floor(random() * 150));
        proxy.cut();
      }
      await Promise.all(writing);
      for (const [i, [live, read, query]] of lists.entries()) {
        await converged(live, http, query, read).catch((error) => {
          throw new Error(`seed ${seed}, list ${i}: ${error.message}`);
        });
      }
    }
    lists.forEach(([live]) => live.close());
  } finally {
    await proxy.close();
  }
});

test("reads after one's own writes are never stale", async () => {
  const { token: userToken, room } = await userAndRoom("ryw");
  const api = client({ url: server.base, token: userToken });
  await api.$client.ws.waitConnected(10_000);
  const query = { where: { roomId: { equals: room } }, orderBy: [{ createdAt: "desc" }], take: 3 };
  const live = api.messages.live(query);
  await live.loaded(10_000);
  for (let i = 0; i < 30; i++) {
    const made = await api.messages.create({ roomId: room, text: `write ${i}` });
    // Served from the live list, which first catches up with this write.
    const page = await api.messages.list(query);
    assert.equal(page.items[0]?.id, made.id, `iteration ${i}`);
    assert.equal(page.total, i + 1);
  }
  assert.ok(live.snapshot().fresh);

  // With the socket gone the cached list is stale: reads fall back to HTTP and see another client's write.
  api.$client.close();
  const other = await userAndRoom("other");
  const theirs = await client({ url: server.base, token: other.token, realtime: false }).messages.create({ roomId: room, text: "not mine" });
  const page = await api.messages.list(query);
  assert.equal(page.items[0]?.id, theirs.id, "a read while the socket is down must not be stale");
  assert.ok(!live.snapshot().items.some((m) => m.id === theirs.id), "the live list itself cannot know");
  live.close();
});

test("a live item follows its row until it is deleted", async () => {
  const { token: userToken, room } = await userAndRoom("item");
  const api = client({ url: server.base, token: userToken });
  const made = await api.messages.create({ roomId: room, text: "first" });
  const item = api.messages.item(made.id);
  await item.loaded(10_000);
  assert.equal(item.snapshot().item.text, "first");
  const other = client({ url: server.base, token: userToken, realtime: false });
  await other.messages.patch(made.id, { text: "second" });
  await until("the patch", () => item.snapshot().item?.text === "second");
  await other.messages.delete(made.id);
  await until("the delete", () => item.snapshot().item === null && item.snapshot().error?.code === "not_found");
  item.close();
});
