// A React page that uses the generated chat client the way a web front-end does: bundled (esbuild) from this file
// and the generated package (`chat-api-client`, `chat-api-client/react`), served from another origin than the API.
// The API's address and a token come in the page's query string (`?api=...&token=...`).

import { StrictMode, useEffect, useState } from "react";
import { createRoot } from "react-dom/client";
import { createClient } from "chat-api-client";
import { useList } from "chat-api-client/react";

const params = new URLSearchParams(location.search);
const api = createClient({
  url: params.get("api") ?? "",
  token: params.get("token"),
  backoff: { baseMs: 50, capMs: 500 },
});

function Rooms() {
  const { items, total, loading, error, fresh, connection } = useList(api.rooms, {
    where: { title: { startsWith: params.get("prefix") ?? "" } },
    orderBy: [{ title: "asc" }],
    take: 50,
  });
  return (
    <main>
      <h1>Rooms</h1>
      <p id="status" data-connection={connection.status} data-fresh={String(fresh)} data-loading={String(loading)}>
        {connection.status} {fresh ? "fresh" : "stale"}
      </p>
      {error && (
        <p id="error" role="alert" data-kind={error.kind}>
          {error.message}
        </p>
      )}
      <p id="total">{total}</p>
      <ul id="rooms">
        {items.map((room) => (
          <li key={room.id} data-id={room.id}>
            {room.title}
          </li>
        ))}
      </ul>
    </main>
  );
}

/** One read and, on demand, one write over HTTP: what CORS governs (the live list reads over the socket). */
function Probe() {
  const [read, setRead] = useState("pending");
  const [seq, setSeq] = useState("none");
  useEffect(() => {
    api.rooms.list({ take: 1 }).then(
      () => setRead("ok"),
      (error) => setRead(error.kind),
    );
  }, []);
  const add = async () => {
    try {
      // The transport's answer carries the write's `Event-Seq`, which the server must expose to this origin.
      const written = await api.$client.http.create("/api/rooms", { title: `${params.get("prefix")} from the page` });
      setSeq(String(written.seq));
    } catch (error) {
      setSeq(`error: ${(error as Error).message}`);
    }
  };
  return (
    <aside>
      <p id="probe">{read}</p>
      <button type="button" id="add" onClick={add}>
        Add a room
      </button>
      <p id="seq">{seq}</p>
    </aside>
  );
}

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <Rooms />
    <Probe />
  </StrictMode>,
);
