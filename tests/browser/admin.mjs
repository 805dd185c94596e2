// Drives the generated admin page in headless Chromium (Debian's, through playwright-core). Run by tests/admin.rs:
//
//   node tests/browser/admin.mjs <base url> <alice token> <bob token>
//
// Alice uses the page; Bob writes over REST, as another client would. To test reconnecting, the script prints
// `RESTART <mode> <json>` and waits for a line `RESTARTED` on standard input: meanwhile the Rust test kills the
// server, makes the changes the JSON asks for while it is down, and starts it again on the same port and database
// (`resume`: the page must resume with `since`; `refetch`: the server cannot replay that far, and the page must
// refetch). The last line is `ADMIN PAGE OK`, or `FAILED: ...` with a non-zero exit status.
// Screenshots go to $ADMIN_SCREENSHOTS_DIR (admin-desktop.png, admin-phone.png) when it is set.

import { chromium } from "playwright-core";
import readline from "node:readline";
import path from "node:path";

const [base, alice, bob] = process.argv.slice(2);
if (!base || !alice || !bob) {
  console.log("usage: node admin.mjs <base url> <alice token> <bob token>");
  process.exit(2);
}
const shots = process.env.ADMIN_SCREENSHOTS_DIR || "";
const TIMEOUT = 15000;
const tag = `t${Date.now().toString(36)}`;

// Lines from standard input, one at a time.
const input = readline.createInterface({ input: process.stdin });
const received = [];
const waiting = [];
input.on("line", (line) => (waiting.length ? waiting.shift()(line) : received.push(line)));
const nextLine = () => (received.length ? Promise.resolve(received.shift()) : new Promise((resolve) => waiting.push(resolve)));

function step(text) {
  console.log(`STEP ${text}`);
}

function check(condition, message) {
  if (!condition) throw new Error(message);
}

async function rest(method, route, token, body) {
  const response = await fetch(`${base}${route}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, ...(body ? { "Content-Type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  return { status: response.status, json: text ? JSON.parse(text) : null };
}

async function createRoom(title, token = bob) {
  const { status, json } = await rest("POST", "/api/rooms", token, { title });
  check(status === 201, `creating room ${title}: ${status} ${JSON.stringify(json)}`);
  return json.id;
}

/** Polls `probe` until it returns a truthy value. */
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

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox"],
});
const pageErrors = [];
let page;
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  page.on("pageerror", (e) => pageErrors.push(e.message));
  // Nothing may be loaded from anywhere but this server.
  const foreign = [];
  page.on("request", (r) => {
    if (!r.url().startsWith(base) && !r.url().startsWith(base.replace("http", "ws")) && !r.url().startsWith("data:")) foreign.push(r.url());
  });

  const rows = () => page.locator("#records tbody tr");
  const row = (text) => page.locator("#records tbody tr", { hasText: text });
  const connection = () => page.locator("#connection").getAttribute("data-state");
  const activityText = () => page.locator("#activity").innerText();
  const dialogTitle = () => page.locator("#record-dialog").getByLabel("title");

  /** Every visible form control has an accessible name. */
  async function unlabelled() {
    return page.evaluate(() =>
      [...document.querySelectorAll("input, select, textarea, button")]
        .filter((el) => el.offsetParent !== null || el.getClientRects().length)
        .filter((el) => {
          const labelled = (el.labels && [...el.labels].some((l) => l.textContent.trim())) || el.getAttribute("aria-label") || el.getAttribute("aria-labelledby");
          const text = el.tagName === "BUTTON" && el.textContent.trim();
          return !labelled && !text;
        })
        .map((el) => el.outerHTML.slice(0, 120)),
    );
  }

  step("the page loads, lists the models and is not live without a token");
  const response = await page.goto(`${base}/admin`);
  check(response.status() === 200, `GET /admin: ${response.status()}`);
  check((response.headers()["content-type"] || "").startsWith("text/html"), "content type of /admin");
  // The navigation is filled from admin/models.json after the page loads: on a busy machine, not yet at `goto`.
  let nav = "";
  const names = ["Bookmarks", "Messages", "Rooms", "Users"];
  await until(`the navigation to list ${names.join(", ")}`, async () => {
    nav = await page.locator("#model-nav").innerText();
    return names.every((name) => nav.includes(name));
  }).catch((e) => check(false, `${e.message}; the navigation: ${nav}`));
  await until("the offline state", async () => (await connection()) === "offline");

  step("keyboard: Tab reaches the skip link, then the token field; Enter uses the token");
  await page.keyboard.press("Tab");
  check(await page.evaluate(() => document.activeElement.classList.contains("skip-link")), "the first Tab stop is the skip link");
  let tabs = 0;
  while (!(await page.evaluate(() => document.activeElement.id === "token-input"))) {
    check(++tabs < 6, "Tab does not reach the token field");
    await page.keyboard.press("Tab");
  }
  await page.keyboard.type(alice);
  await page.keyboard.press("Enter");
  await until("the live state", async () => (await connection()) === "live");
  check((await page.evaluate(() => localStorage.getItem("ssot-admin-token"))) === alice, "the token is kept in localStorage");
  check((await page.locator("#identity").innerText()).includes("Signed in as"), "the identity is shown");

  step("keyboard: a model link opens its page");
  await page.getByRole("link", { name: "Rooms", exact: true }).first().focus();
  await page.keyboard.press("Enter");
  await page.waitForURL(/#\/rooms$/);
  await page.getByRole("heading", { level: 1, name: "Rooms" }).waitFor();
  await until("the live caption", async () => /, live$/.test(await page.locator("#table-caption").innerText()));
  const missing = await unlabelled();
  check(missing.length === 0, `controls without a label: ${missing.join(" | ")}`);
  await page.locator("#filter-field").focus();
  await page.keyboard.press("Tab");
  check(await page.evaluate(() => document.activeElement.id === "filter-op"), "Tab goes from the field to the condition");
  for (const label of ["Field", "Condition", "Value", "Rows per page", "Show actions the rules deny"]) {
    check((await page.getByLabel(label, { exact: true }).count()) === 1, `no control labelled ${label}`);
  }

  step("hidden fields are never columns");
  await page.goto(`${base}/admin#/users`);
  await page.getByRole("heading", { level: 1, name: "Users" }).waitFor();
  await until("user rows", async () => (await rows().count()) >= 2 && !(await page.locator("#records tbody").innerText()).includes("No records"));
  const headers = await page.locator("#records thead th").allInnerTexts();
  check(JSON.stringify(headers.map((t) => t.replace(/[▲▼]/g, "").trim())) === JSON.stringify(["id", "email", "name", "createdAt", "Actions"]), `user columns: ${headers}`);
  check(!(await page.locator("#records").innerText()).includes("passwordHash"), "passwordHash is shown");
  check(await page.locator("#create-button").isHidden(), "New User is offered to a non-admin");

  step("live: a room Bob creates over REST appears without a reload");
  await page.goto(`${base}/admin#/rooms`);
  await page.getByRole("heading", { level: 1, name: "Rooms" }).waitFor();
  await until("the live caption", async () => /, live$/.test(await page.locator("#table-caption").innerText()));
  const liveId = await createRoom(`${tag} bob live`);
  await row(`${tag} bob live`).waitFor();
  check((await row(`${tag} bob live`).getByRole("button", { name: /Edit|Delete/ }).count()) === 0, "actions the rules deny (Bob's room) are shown to Alice");

  step("live: an update over REST shows");
  let r = await rest("PATCH", `/api/rooms/${liveId}`, bob, { title: `${tag} bob renamed` });
  check(r.status === 200, `PATCH: ${r.status}`);
  await row(`${tag} bob renamed`).waitFor();
  await row(`${tag} bob live`).waitFor({ state: "detached" });

  step("live: a delete over REST shows");
  r = await rest("DELETE", `/api/rooms/${liveId}`, bob);
  check(r.status === 204, `DELETE: ${r.status}`);
  await row(`${tag} bob renamed`).waitFor({ state: "detached" });
  check((await activityText()).includes(`Room ${liveId} deleted`), "the activity log names the delete");

  step("create from the form");
  await page.getByRole("button", { name: "New Room" }).click();
  await page.locator("#record-dialog").waitFor();
  check(await page.evaluate(() => document.activeElement.id === "field-title"), "the form focuses its first field");
  await dialogTitle().fill(`${tag} alice form`);
  await page.keyboard.press("Enter");
  await page.locator("#record-dialog").waitFor({ state: "hidden" });
  await row(`${tag} alice form`).waitFor();

  step("the server's validation error is shown in the form");
  await row(`${tag} alice form`).getByRole("button", { name: /^Edit/ }).click();
  await dialogTitle().fill("");
  await page.getByRole("button", { name: "Save" }).click();
  await until("the error body", async () => (await page.locator("#record-error").innerText()).includes("validation_failed"));
  check((await dialogTitle().getAttribute("aria-invalid")) === "true", "the invalid field is marked");
  check(await page.locator("#field-title-error").isVisible(), "the field's message is shown");
  await dialogTitle().fill(`${tag} alice edited`);
  await page.getByRole("button", { name: "Save" }).click();
  await row(`${tag} alice edited`).waitFor();

  step("a denied action, shown on request, is refused by the server and the error shown");
  const bobsId = await createRoom(`${tag} bob owns`);
  await row(`${tag} bob owns`).waitFor();
  await page.getByLabel("Show actions the rules deny").check();
  await row(`${tag} bob owns`).getByRole("button", { name: /^Delete/ }).click();
  await page.locator("#confirm-dialog").getByRole("button", { name: "Delete" }).click();
  await until("the forbidden error", async () => (await page.locator("#list-error").innerText()).includes("forbidden: you may not do this"));
  check(!(await page.locator("#list-error").innerText()).includes("null"), "the error block shows a null");
  await page.getByLabel("Show actions the rules deny").uncheck();
  check((await rest("GET", `/api/rooms/${bobsId}`, bob)).status === 200, "Bob's room survived");

  step("delete from the page, after confirming");
  await row(`${tag} alice edited`).getByRole("button", { name: /^Delete/ }).click();
  await page.locator("#confirm-dialog").getByRole("button", { name: "Keep" }).click();
  check(await row(`${tag} alice edited`).isVisible(), "Keep deleted the row");
  await row(`${tag} alice edited`).getByRole("button", { name: /^Delete/ }).click();
  await page.locator("#confirm-dialog").getByRole("button", { name: "Delete" }).click();
  await row(`${tag} alice edited`).waitFor({ state: "detached" });

  step("relations: a message's room is a link named by the room's title; a room links to its messages");
  const linkedRoom = await createRoom(`${tag} linked`, alice);
  const posted = await rest("POST", "/api/messages", alice, { roomId: linkedRoom, text: `${tag} in the linked room` });
  check(posted.status === 201, `POST message: ${posted.status}`);
  await page.goto(`${base}/admin#/messages`);
  await page.getByRole("heading", { level: 1, name: "Messages" }).waitFor();
  const link = row(`${tag} in the linked room`).getByRole("link", { name: `${tag} linked` });
  await link.waitFor();
  await link.click();
  await page.getByRole("heading", { level: 1, name: "Rooms" }).waitFor();
  await until("only the linked room", async () => (await page.locator("#page-range").innerText()) === "1–1 of 1");
  check((await rows().first().innerText()).includes(`${tag} linked`), "the link opens the referenced room");
  check((await page.locator(".chips").innerText()).includes(`id equals ${linkedRoom}`), "the room's filter is shown");
  await row(`${tag} linked`).getByRole("link", { name: `messages of Room ${linkedRoom}` }).click();
  await page.getByRole("heading", { level: 1, name: "Messages" }).waitFor();
  await until("the room's one message", async () => (await page.locator("#page-range").innerText()) === "1–1 of 1");
  check((await rows().first().innerText()).includes(`${tag} in the linked room`), "the room's messages are listed");
  await page.goto(`${base}/admin#/rooms`);
  await page.getByRole("heading", { level: 1, name: "Rooms" }).waitFor();
  await until("every room again", async () => !(await page.locator(".chips").innerText()).includes("equals"));

  step("filtering, paging and sorting");
  // Alice owns every third room: the screenshots show rows with and without actions.
  for (let i = 1; i <= 12; i++) await createRoom(`${tag} p${String(i).padStart(2, "0")}`, i % 3 === 0 ? alice : bob);
  await page.getByLabel("Field", { exact: true }).selectOption("title");
  await page.getByLabel("Condition", { exact: true }).selectOption("startsWith");
  await page.getByLabel("Value", { exact: true }).fill(`${tag} p`);
  await page.getByRole("button", { name: "Add filter" }).click();
  await until("12 matches", async () => (await page.locator("#page-range").innerText()) === "1–12 of 12");
  await page.getByLabel("Rows per page").selectOption("10");
  await until("the first page", async () => (await page.locator("#page-range").innerText()) === "1–10 of 12");
  check((await rows().count()) === 10, "ten rows on the first page");
  await page.getByRole("button", { name: "Next page" }).click();
  await until("the second page", async () => (await page.locator("#page-range").innerText()) === "11–12 of 12");
  check(await page.getByRole("button", { name: "Next page" }).isDisabled(), "Next on the last page");
  await page.getByRole("button", { name: "Previous page" }).click();
  await until("back on the first page", async () => (await page.locator("#page-range").innerText()) === "1–10 of 12");
  await page.locator("#records thead").getByRole("button", { name: /^title/ }).click();
  await until("ascending by title", async () => (await page.locator("#records thead th", { hasText: "title" }).getAttribute("aria-sort")) === "ascending");
  await until("p01 first", async () => (await rows().first().innerText()).includes(`${tag} p01`));
  await page.locator("#records thead").getByRole("button", { name: /^title/ }).click();
  await until("descending by title", async () => (await page.locator("#records thead th", { hasText: "title" }).getAttribute("aria-sort")) === "descending");
  await until("p12 first", async () => (await rows().first().innerText()).includes(`${tag} p12`));

  if (shots) {
    step("screenshots");
    await page.getByLabel("Rows per page").selectOption("20");
    await until("all matches", async () => (await page.locator("#page-range").innerText()) === "1–12 of 12");
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: path.join(shots, "admin-desktop.png") });
    await page.setViewportSize({ width: 390, height: 844 });
    const phoneMissing = await unlabelled();
    check(phoneMissing.length === 0, `controls without a label at phone width: ${phoneMissing.join(" | ")}`);
    check(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1), "the page scrolls sideways at phone width");
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: path.join(shots, "admin-phone.png") });
    await page.setViewportSize({ width: 1280, height: 900 });
  }
  await page.getByRole("button", { name: /^Remove filter/ }).click();

  async function restart(mode, round) {
    const prefix = `${tag} ${round}`;
    const keep = await createRoom(`${prefix} keep`);
    const doomed = await createRoom(`${prefix} doomed`);
    await page.getByLabel("Field", { exact: true }).selectOption("title");
    await page.getByLabel("Condition", { exact: true }).selectOption("startsWith");
    await page.getByLabel("Value", { exact: true }).fill(prefix);
    await page.getByRole("button", { name: "Add filter" }).click();
    await row(`${prefix} doomed`).waitFor();
    await row(`${prefix} keep`).waitFor();
    const dropped = page.waitForSelector("#connection[data-state=reconnecting]", { timeout: 30000 });
    console.log(`RESTART ${mode} ${JSON.stringify({ prefix, update: keep, delete: doomed })}`);
    const answer = await nextLine();
    check(answer.startsWith("RESTARTED"), `expected RESTARTED, got ${answer}`);
    await dropped;
    await until("live again", async () => (await connection()) === "live", 30000);
    await row(`${prefix} created while down`).waitFor({ timeout: 30000 });
    await row(`${prefix} renamed while down`).waitFor();
    await row(`${prefix} doomed`).waitFor({ state: "detached" });
    await row(`${prefix} keep`).waitFor({ state: "detached" });
    const log = await activityText();
    check(log.includes("Connection lost"), `the activity log does not show the dropped connection:\n${log}`);
    await page.getByRole("button", { name: /^Remove filter/ }).click();
    return log;
  }

  step("kill and restart: the page reconnects, resumes with since and shows what changed meanwhile");
  let log = await restart("resume", "r1");
  check(/resumed Room:list after event \d+/.test(log), `the page did not resume:\n${log}`);

  step("kill and restart where the server cannot replay that far: the page refetches");
  log = await restart("refetch", "r2");
  check(/could not resume Room:list after event \d+; refetched/.test(log), `the page did not refetch:\n${log}`);

  step("a token the server refuses: the WebSocket is closed with 4401 and the page says so");
  await page.getByLabel("Access token").fill("not.a.token");
  await page.getByRole("button", { name: "Use token" }).click();
  await until("the unauthorized state", async () => (await connection()) === "unauthorized");
  check((await page.locator("#identity").innerText()).includes("not a JWT"), "the identity does not flag the token");
  await until("the REST error", async () => (await page.locator("#list-error").innerText()).includes("unauthorized"));

  step("forgetting the token: anonymous, not live, nothing kept");
  await page.getByRole("button", { name: "Forget token" }).click();
  await until("the offline state", async () => (await connection()) === "offline");
  check((await page.evaluate(() => localStorage.getItem("ssot-admin-token"))) === null, "the token is still stored");
  await until("rooms for anonymous readers", async () => (await rows().count()) > 1);

  check(pageErrors.length === 0, `errors in the page: ${pageErrors.join(" | ")}`);
  check(foreign.length === 0, `requests to elsewhere: ${foreign.join(" ")}`);
  console.log("ADMIN PAGE OK");
} catch (e) {
  console.log(`FAILED: ${e.stack || e}`);
  if (pageErrors.length) console.log(`page errors: ${pageErrors.join(" | ")}`);
  if (page && shots) await page.screenshot({ path: path.join(shots, "admin-failure.png"), fullPage: true }).catch(() => {});
  process.exitCode = 1;
} finally {
  await browser.close();
  input.close();
}
