// The generated TypeScript client in a real browser: a React page (app.tsx, bundled with esbuild against the
// generated package) served from another origin than the API, in headless Chromium (Debian's, driven by
// playwright-core). Run by tests/typescript_browser.rs:
//
//   node browser/react-page.mjs <api base url> <token> <client dir> <allowed port> <refused port>
//
// The server allows the origin http://127.0.0.1:<allowed port> (CORS_ORIGINS) and no other. The script:
// - on the allowed origin, sees rooms created elsewhere (over REST) appear without a reload, in order;
// - prints `RESTART`, waits for `RESTARTED` on standard input (the Rust test kills the server, creates a room through
//   another process on the same database and starts it again), and sees that room and a later one appear;
// - on the refused origin, sees the reads fail (CORS) and the socket refused (the upgrade's Origin is checked).
// The last line is `REACT PAGE OK`, or `FAILED: ...` with a non-zero exit status.

import { build } from "esbuild";
import { chromium } from "playwright-core";
import http from "node:http";
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";

const [base, token, clientDir, allowedPort, refusedPort] = process.argv.slice(2);
if (!base || !token || !clientDir || !allowedPort || !refusedPort) {
  console.log("usage: node react-page.mjs <api base url> <token> <client dir> <allowed port> <refused port>");
  process.exit(2);
}
const here = path.dirname(fileURLToPath(import.meta.url));
const TIMEOUT = 15000;
const prefix = `r${Date.now().toString(36)}`;

const input = readline.createInterface({ input: process.stdin });
const received = [];
const waiting = [];
input.on("line", (line) => (waiting.length ? waiting.shift()(line) : received.push(line)));
const nextLine = () => (received.length ? Promise.resolve(received.shift()) : new Promise((resolve) => waiting.push(resolve)));

const step = (text) => console.log(`STEP ${text}`);
function check(condition, message) {
  if (!condition) throw new Error(message);
}

async function until(what, probe, timeout = TIMEOUT) {
  const deadline = Date.now() + timeout;
  let last;
  while (Date.now() < deadline) {
    try {
      last = await probe();
      if (last) return last;
    } catch (e) {
      last = e.message;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)})`);
}

async function createRoom(title) {
  const response = await fetch(`${base}/api/rooms`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: JSON.stringify({ title }),
  });
  check(response.status === 201, `creating ${title}: ${response.status}`);
}

/** The page's bundle: app.tsx with React and the generated package, as an app would build it. */
async function bundle() {
  const dir = mkdtempSync(path.join(os.tmpdir(), "ssot-react-page-"));
  mkdirSync(path.join(dir, "node_modules"));
  symlinkSync(path.resolve(clientDir), path.join(dir, "node_modules/chat-api-client"), "dir");
  const result = await build({
    entryPoints: [path.join(here, "app.tsx")],
    bundle: true,
    write: false,
    format: "esm",
    jsx: "automatic",
    target: "es2022",
    define: { "process.env.NODE_ENV": '"development"' },
    nodePaths: [path.join(dir, "node_modules"), path.join(here, "../node_modules")],
    logLevel: "error",
  });
  return result.outputFiles[0].text;
}

/** Serves the page on `port` (another origin than the API). */
function serve(port, script) {
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Rooms</title></head>
<body><div id="root"></div><script type="module" src="/app.js"></script></body></html>`;
  const server = http.createServer((request, response) => {
    if (request.url.startsWith("/app.js")) {
      response.writeHead(200, { "Content-Type": "text/javascript" });
      response.end(script);
    } else {
      response.writeHead(200, { "Content-Type": "text/html" });
      response.end(html);
    }
  });
  return new Promise((resolve) => server.listen(Number(port), "127.0.0.1", () => resolve(server)));
}

const script = await bundle();
const servers = [await serve(allowedPort, script), await serve(refusedPort, script)];
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const pageErrors = [];
try {
  const query = `?api=${encodeURIComponent(base)}&token=${encodeURIComponent(token)}&prefix=${prefix}`;
  const page = await browser.newPage();
  page.setDefaultTimeout(TIMEOUT);
  page.on("pageerror", (e) => pageErrors.push(e.message));
  const titles = () => page.locator("#rooms li").allInnerTexts();
  const status = () => page.locator("#status").getAttribute("data-connection");

  step("the page on another origin reads the rooms and goes live");
  await createRoom(`${prefix} b`);
  await page.goto(`http://127.0.0.1:${allowedPort}/${query}`);
  await until("the first room", async () => (await titles()).join("|") === `${prefix} b`);
  await until("the live connection", async () => (await status()) === "connected");
  check((await page.locator("#error").count()) === 0, "an error is shown");
  await until("a read over HTTP", async () => (await page.locator("#probe").innerText()) === "ok");

  step("a write from the page (a preflighted POST) gets its Event-Seq");
  await page.locator("#add").click();
  await until("the write's Event-Seq", async () => /^[0-9]+$/.test(await page.locator("#seq").innerText()));
  await until("the page's own room", async () => (await titles()).includes(`${prefix} from the page`));

  step("rooms created elsewhere appear without a reload, in the query's order");
  await createRoom(`${prefix} a`);
  await createRoom(`${prefix} c`);
  await createRoom(`another ${prefix}`); // outside the filter
  const sorted = (...letters) => [`${prefix} a`, `${prefix} b`, `${prefix} c`, `${prefix} d`, `${prefix} e`].filter((t) => letters.includes(t.slice(-1))).concat([`${prefix} from the page`]).sort().join("|");
  await until("the new rooms, sorted", async () => (await titles()).join("|") === sorted("a", "b", "c"));
  check((await page.locator("#total").innerText()) === "4", "the total");

  step("the server restarts; a room created while it was down appears, and so does a later one");
  console.log("RESTART " + JSON.stringify({ title: `${prefix} d` }));
  check((await nextLine()) === "RESTARTED", "the restart");
  await until("the room created while down", async () => (await titles()).includes(`${prefix} d`), 30000);
  await until("the connection back", async () => (await status()) === "connected");
  await createRoom(`${prefix} e`);
  await until("the room created after the restart", async () => (await titles()).join("|") === sorted("a", "b", "c", "d", "e"));
  await until("a fresh list", async () => (await page.locator("#status").getAttribute("data-fresh")) === "true");

  step("an origin the server does not allow: reads refused by CORS, the socket refused");
  const refused = await browser.newPage();
  refused.on("pageerror", (e) => pageErrors.push(e.message));
  const consoleErrors = [];
  refused.on("console", (m) => m.type() === "error" && consoleErrors.push(m.text()));
  await refused.goto(`http://127.0.0.1:${refusedPort}/${query}`);
  await until("the read refused by CORS", async () => (await refused.locator("#probe").innerText()) === "transport");
  check((await refused.locator("#rooms li").count()) === 0, "rows reached a refused origin");
  await until("the socket not connected", async () => ["reconnecting", "connecting"].includes(await refused.locator("#status").getAttribute("data-connection")));
  await new Promise((r) => setTimeout(r, 1000));
  check((await refused.locator("#status").getAttribute("data-connection")) !== "connected", "the socket connected from a refused origin");
  check(consoleErrors.some((t) => /CORS|Access-Control-Allow-Origin/i.test(t)), `no CORS error in the console: ${consoleErrors.join(" | ")}`);

  check(pageErrors.length === 0, `script errors in the page: ${pageErrors.join(" | ")}`);
  console.log("REACT PAGE OK");
} catch (error) {
  console.log(`FAILED: ${error.message}`);
  process.exitCode = 1;
} finally {
  await browser.close();
  servers.forEach((s) => s.close());
  input.close();
}
