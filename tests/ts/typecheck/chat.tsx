// Typed usage of the generated chat client, compiled with `tsc --strict --noEmit` by tests/typescript.rs against the
// package's sources and, again, against its declarations (dist/*.d.ts). Each `@ts-expect-error` must meet an
// error, or tsc fails with "Unused '@ts-expect-error' directive": wrong field names, operators, value types and
// sort keys do not compile.

import {
    createClient,
    HttpError,
    type LiveSnapshot,
    type Message,
    type MessageFilter,
    type MessageOrderBy,
    type MessageWithRelations,
    type Room,
} from "chat-api-client";
import { useItem, useList, useListIncluding } from "chat-api-client/react";

const api = createClient({ url: "http://127.0.0.1:8080", token: () => "jwt" });

export async function crud(): Promise<void> {
    const room: Room = await api.rooms.create({ title: "general" });
    const id: number = room.id;
    const message = await api.messages.create({ roomId: id, text: "hi" });
    const text: string = message.text;
    const edited: string | null = message.editedAt;
    await api.messages.patch(message.id, { editedAt: null, text: `${text}!` });
    await api.messages.update(message.id, { roomId: id, text: "replaced" });
    await api.messages.delete(message.id);
    const page = await api.messages.list({
        where: { roomId: { equals: id }, text: { contains: "h", startsWith: "h" }, OR: [{ editedAt: { isNull: true } }] },
        orderBy: [{ createdAt: "desc" }, { text: "asc" }],
        skip: 0,
        take: 20,
    });
    const total: number = page.total;
    const first: Message | undefined = page.items[0];
    void [edited, total, first];
    try {
        await api.users.get("5f0c");
    } catch (error) {
        if (error instanceof HttpError && error.code === "not_found") {
            const status: number = error.status;
            void status;
        }
    }

    // @ts-expect-error: no such field
    await api.messages.create({ roomId: id, txt: "hi" });
    // @ts-expect-error: a required field is missing
    await api.messages.create({ roomId: id });
    // @ts-expect-error: the id of a Room is a number
    await api.rooms.get("1");
    // @ts-expect-error: the author is the owner, set by the server
    await api.messages.create({ roomId: id, text: "hi", authorId: "me" });
    // @ts-expect-error: a hidden field is never in a record
    void (await api.users.get("u")).passwordHash;
    // @ts-expect-error: a patch of a required field cannot clear it
    await api.messages.patch(message.id, { text: null });
}

export const good: MessageFilter = { NOT: [{ authorId: { in: ["a", "b"] } }], createdAt: { gte: "2026-01-01T00:00:00Z" } };
// @ts-expect-error: `contains` is a text operator, `roomId` a number
export const badOperator: MessageFilter = { roomId: { contains: "1" } };
// @ts-expect-error: no such filter field
export const badField: MessageFilter = { title: { equals: "x" } };
// @ts-expect-error: uuids compare for equality only
export const badOrdered: MessageFilter = { authorId: { lt: "a" } };
// @ts-expect-error: an enum filter takes the enum's values
export const badEnum: import("chat-api-client").BookmarkFilter = { color: { equals: "purple" } };
export const throughRelations: MessageFilter = {
    author: { is: { name: { equals: "Ada" } }, isNot: null },
    room: { is: { messages: { some: { text: { contains: "hi" } }, every: {}, none: { NOT: [] } } } },
};
// @ts-expect-error: `some` is for a to-many relation, `author` is a to-one
export const badRelationOperator: MessageFilter = { author: { some: {} } };
// @ts-expect-error: the inner filter is the related model's (a User has no `text`)
export const badRelationField: MessageFilter = { author: { is: { text: { equals: "x" } } } };
// @ts-expect-error: one key per sort key
export const twoKeys: MessageOrderBy = { text: "asc", createdAt: "desc" };
// @ts-expect-error: the id of a Message (a uuid) is not orderable, and neither is an unknown field
export const badKey: MessageOrderBy = { authorId: "asc" };
// @ts-expect-error: a direction is "asc" or "desc"
export const badDirection: MessageOrderBy = { text: "up" };

export async function included(roomId: number): Promise<string> {
    const page = await api.messages.listIncluding({ where: { roomId: { equals: roomId } }, take: 20 }, "author,room,replies");
    const first = page.items[0];
    const names: string = `${first?.author?.name} ${first?.room?.title} ${first?.replies?.map((r) => r.text).join()}`;
    // @ts-expect-error: a to-one relation may be null (not included, no such row, or not readable)
    const title: string = first.room.title;
    // @ts-expect-error: `members` is no relation of a Message
    const members = first?.members;
    const room = await api.rooms.getIncluding(roomId, { messages: { take: 5, orderBy: [{ createdAt: "desc" }], include: { author: true } } });
    return `${names} ${title} ${members} ${room.messages?.[0]?.author?.email}`;
}

export function liveThroughRelations(roomId: number): string {
    const live = api.messages.liveIncluding({ where: { roomId: { equals: roomId }, author: { is: { name: { equals: "Ada" } } } } }, "author,room");
    const snapshot: LiveSnapshot<MessageWithRelations> = live.snapshot();
    const names = snapshot.items.map((m) => m.author?.name).join();
    // @ts-expect-error: a to-one relation may be null (not included, no such row, or not readable)
    const title: string = snapshot.items[0].room.title;
    const objectForm = api.rooms.liveIncluding({}, { messages: { where: { text: { contains: "x" } }, include: { author: true } } });
    const authors = objectForm.snapshot().items.map((r) => r.messages?.map((m) => m.author?.email));
    const rooms = api.rooms.live({ where: { messages: { some: { text: { contains: "x" } } } } });
    // @ts-expect-error: a plain live list holds records, without relations
    const messages = rooms.snapshot().items[0]?.messages;
    // @ts-expect-error: the query is typed by the resource
    api.messages.liveIncluding({ where: { title: { equals: "x" } } }, "author");
    return `${names} ${title} ${authors} ${messages}`;
}

export function Messages({ roomId }: { roomId: number }): string {
    const { items, total, loading, error, connection } = useList(api.messages, {
        where: { roomId: { equals: roomId } },
        orderBy: [{ createdAt: "desc" }],
        take: 50,
    });
    const { item } = useItem(api.rooms, roomId);
    const title: string | undefined = item?.title;
    const withAuthors = useListIncluding(api.messages, { where: { roomId: { equals: roomId } } }, "author");
    const authors: (string | undefined)[] = withAuthors.items.map((m) => m.author?.name);
    // @ts-expect-error: the hook's query is typed by the resource
    useList(api.rooms, { where: { text: { contains: "x" } } });
    return `${title} ${authors} ${items.map((m) => m.text).join()} ${total} ${loading} ${error?.message} ${connection.status}`;
}
