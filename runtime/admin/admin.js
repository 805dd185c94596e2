// The admin page: one view per model (`#/<slug>`), built from `/admin/models.json` (generated from the schema).
// It talks to the server through the crate's TypeScript client (clients/ts, served under /admin/client/): reads and
// writes over its HTTP transport (`Authorization: Bearer`), and the table stays live through its WebSocket
// transport (`/ws`, subprotocols `ssot.v1` + `bearer.<token>`, reconnecting with backoff and resubscribing with
// `since`): it subscribes to `<Model>:list`, refetches the page (a `list` request whose `seq` says which events it
// reflects) after each newer `update`, and refetches when the server answers a resubscription with `resumed: false`.
// The server enforces every access rule; the page only hides the actions the schema denies.

import { AuthError, HttpTransport, WsTransport } from "./client/runtime.js";

(() => {
  const TOKEN_KEY = "ssot-admin-token";
  const TAKES = [10, 20, 50, 100];
  const ACTIVITY_MAX = 50;

  let meta = null; // models.json
  let token = localStorage.getItem(TOKEN_KEY) || "";
  let identity = null; // { sub, roles, exp } from the token (not verified here: the server checks it)
  let view = null; // the current model view

  const $ = (id) => document.getElementById(id);

  /** Builds an element: h("td", { class: "x", onclick: f }, "text", child). */
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
      else if (key === "class") el.className = value;
      else if (key === "dataset") Object.assign(el.dataset, value);
      else el.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
  }

  function activity(text) {
    const list = $("activity");
    const time = new Date().toLocaleTimeString();
    list.prepend(h("li", {}, `${time} ${text}`));
    while (list.children.length > ACTIVITY_MAX) list.lastElementChild.remove();
  }

  // ---------------------------------------------------------------------------------------------------------
  // The token

  function decodeToken(value) {
    try {
      const part = value.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      const claims = JSON.parse(atob(part + "=".repeat((4 - (part.length % 4)) % 4)));
      return {
        sub: String(claims.sub ?? ""),
        roles: Array.isArray(claims.roles) ? claims.roles.map(String) : [],
        exp: typeof claims.exp === "number" ? claims.exp : null,
      };
    } catch {
      return null;
    }
  }

  function showIdentity() {
    const el = $("identity");
    if (!token) {
      el.textContent = "No token: anonymous";
    } else if (!identity) {
      el.textContent = "This is not a JWT; the server will refuse it";
    } else {
      const roles = identity.roles.length ? ` with roles ${identity.roles.join(", ")}` : " without roles";
      const expired = identity.exp !== null && identity.exp * 1000 < Date.now();
      const until = identity.exp === null ? "" : `, ${expired ? "expired" : "valid until"} ${new Date(identity.exp * 1000).toLocaleString()}`;
      el.textContent = `Signed in as ${identity.sub}${roles}${until}`;
    }
  }

  function setToken(value) {
    token = value.trim();
    identity = token ? decodeToken(token) : null;
    if (token) localStorage.setItem(TOKEN_KEY, token);
    else localStorage.removeItem(TOKEN_KEY);
    showIdentity();
    live.restart();
    if (view) view.reload();
  }

  // ---------------------------------------------------------------------------------------------------------
  // Access rules (a preview: the server decides)

  function allowed(rule, model, row) {
    if (rule.public) return true;
    if (!token || !identity) return false;
    if (rule.authenticated) return true;
    if (rule.roles.some((role) => identity.roles.includes(role))) return true;
    if (row === undefined) return rule.owner; // creating: the server sets the owner field to the caller
    if (rule.owner && model.ownerField && String(row[model.ownerField]) === identity.sub) return true;
    if (rule.self && String(row[model.idField]) === identity.sub) return true;
    return false;
  }

  // ---------------------------------------------------------------------------------------------------------
  // HTTP

  const http = new HttpTransport({ url: location.origin, token: () => token || null, timeoutMs: 15000 });

  /** One REST call through the client's HTTP transport; throws the server's error body (`{ code, message, details }`). */
  async function api(method, path, body) {
    try {
      const answer = await http.send(method, path, body);
      return answer.body === undefined ? null : answer.body;
    } catch (error) {
      throw errorBody(error);
    }
  }

  /** A client error as the server's error shape, which the page shows. */
  function errorBody(error) {
    if (error && error.body) return error.body; // HttpError, RequestError: the server's own
    if (error instanceof AuthError) return { code: "unauthorized", message: error.reason };
    if (error && error.kind === "transport") return { code: "network", message: `the server cannot be reached (${error.reason})` };
    if (error && error.kind) return { code: error.kind, message: error.message };
    return { code: "error", message: String(error) };
  }

  /** The server's error body as a block: code, message and details. */
  function errorBlock(error) {
    const block = [h("p", {}, h("code", {}, error.code || "error"), ": ", error.message || "")];
    if (Array.isArray(error.details) && error.details.length) {
      block.push(h("ul", {}, error.details.map((d) => h("li", {}, `${d.field}: ${d.message}`, d.code ? ` (${d.code})` : ""))));
    }
    return block;
  }

  // ---------------------------------------------------------------------------------------------------------
  // The WebSocket connection: one per page, resubscribing with `since` after every reconnect.

  const live = (() => {
    let ws = null;
    let stopState = null;
    let state = "offline";
    const subscriptions = new Map(); // channel -> { handler, stop }

    function setState(next, text) {
      state = next;
      const el = $("connection");
      el.dataset.state = next;
      $("connection-text").textContent = text;
    }

    function follow(connection) {
      switch (connection.status) {
        case "connected":
          setState("live", "Live");
          if (view) view.connected();
          break;
        case "connecting":
          if (state !== "reconnecting") setState("connecting", "Connecting…");
          break;
        case "reconnecting":
          if (state === "live") activity("Connection lost; reconnecting.");
          setState("reconnecting", `Reconnecting (attempt ${connection.attempt + 1})…`);
          break;
        case "offline":
          setState("offline", "Not live: enter a token");
          break;
        case "failed":
          if (connection.error instanceof AuthError) {
            setState("unauthorized", "Not live: the server refused the token");
            activity("The server refused the token (close 4401); enter another one.");
          } else {
            setState("offline", `Not live: ${connection.error.message}`);
          }
          break;
      }
    }

    function listen(channel, entry) {
      entry.stop = ws.listen(channel, (event) => {
        switch (event.type) {
          case "update":
            entry.handler.update({ channel, seq: event.seq, kind: event.kind, id: event.id });
            break;
          case "subscribed":
            // A first subscription has no `since`: nothing was resumed (or missed).
            entry.handler.subscribed({ channel, seq: event.seq, since: event.since, resumed: event.since === null ? undefined : event.resumed });
            break;
          case "refused":
            entry.handler.refused(event.error);
            break;
          default:
            break;
        }
      });
    }

    /** A new socket for the current token (the old one, if any, closed first); every watched channel follows. */
    function connect() {
      if (stopState) stopState();
      if (ws) ws.close();
      ws = new WsTransport({ url: location.origin, token: () => token || null, timeoutMs: 15000, backoff: { baseMs: 250, capMs: 5000 } });
      stopState = ws.onState(follow);
      follow(ws.state);
      for (const [channel, entry] of subscriptions) listen(channel, entry);
    }

    return {
      isLive: () => state === "live",
      restart: connect,
      start: connect,
      watch(channel, handler) {
        const entry = { handler, stop: null };
        subscriptions.set(channel, entry);
        if (ws) listen(channel, entry);
      },
      unwatch(channel) {
        const entry = subscriptions.get(channel);
        subscriptions.delete(channel);
        if (entry && entry.stop) entry.stop();
      },
      /** A `request` over the socket: resolves with `{ data, seq }`, rejects with the server's error shape. */
      request(model, action, params) {
        return ws.request(model, action, params).catch((error) => {
          throw errorBody(error);
        });
      },
    };
  })();

  // ---------------------------------------------------------------------------------------------------------
  // Values: display and input

  function display(field, value) {
    if (value === null || value === undefined) return null;
    if (field.scalar === "bool") return value ? "yes" : "no";
    if (field.scalar === "json") return JSON.stringify(value);
    return String(value);
  }

  /** The text an input starts with for a value. */
  function inputText(field, value) {
    if (value === null || value === undefined) return "";
    if (field.scalar === "json") return JSON.stringify(value, null, 2);
    return String(value);
  }

  /** Input text -> JSON value; `undefined` leaves the field out. Throws a message for text that is no value. */
  function parseInput(field, text, mode) {
    const optional = mode === "create" ? field.create !== "required" : field.optional;
    if (text === "") {
      if (field.hidden && mode === "edit") return undefined; // a write-only field left empty keeps its value
      if (mode === "create" && field.create === "optional") return undefined;
      if (optional) return null;
      if (field.input === "text" || field.input === "textarea") return ""; // the server says what it needs
      throw "is required";
    }
    switch (field.input) {
      case "integer": {
        if (!/^-?\d+$/.test(text.trim())) throw "must be a whole number";
        return Number(text.trim());
      }
      case "number": {
        const number = Number(text.trim());
        if (text.trim() === "" || Number.isNaN(number)) throw "must be a number";
        return number;
      }
      case "bool":
        return text === "true";
      case "json":
        try {
          return JSON.parse(text);
        } catch {
          throw "must be JSON";
        }
      default:
        return text;
    }
  }

  function fieldInput(field, id, value, mode) {
    const required = mode === "create" ? field.create === "required" : !field.optional;
    const attrs = { id, name: field.name, "aria-describedby": `${id}-hint` };
    if (field.input === "select" || field.input === "bool") {
      const options = field.input === "bool" ? ["true", "false"] : field.values;
      const blank = mode === "create" && !required ? "(default)" : !required ? "(empty)" : null;
      const select = h("select", attrs, blank ? h("option", { value: "" }, blank) : null, options.map((o) => h("option", { value: o }, field.input === "bool" ? (o === "true" ? "yes" : "no") : o)));
      select.value = value === undefined || value === null ? (blank ? "" : options[0]) : String(value);
      return select;
    }
    if (field.input === "textarea" || field.input === "json") {
      const area = h("textarea", { ...attrs, rows: field.input === "json" ? 5 : 3, spellcheck: field.input === "json" ? "false" : null });
      area.value = inputText(field, value);
      return area;
    }
    const type = field.hidden ? "password" : field.input === "integer" || field.input === "number" ? "text" : field.input === "date" ? "date" : "text";
    const input = h("input", {
      ...attrs,
      type,
      inputmode: field.input === "integer" ? "numeric" : field.input === "number" ? "decimal" : null,
      autocomplete: field.hidden ? "new-password" : "off",
    });
    input.value = inputText(field, value);
    return input;
  }

  function fieldHint(field, mode) {
    const parts = [];
    parts.push(field.type + (field.optional ? ", optional" : ""));
    if (field.notes) parts.push(field.notes);
    if (mode === "create" && field.create === "optional" && field.default) parts.push("has a default");
    if (field.references) parts.push(`the id of a ${field.references}`);
    if (field.hidden) parts.push(mode === "edit" ? "write-only; leave empty to keep" : "write-only, never shown");
    if (field.scalar === "datetime") parts.push("RFC 3339, e.g. 2026-01-31T12:00:00Z");
    return parts.join("; ");
  }

  // ---------------------------------------------------------------------------------------------------------
  // The record dialog (create and edit) and the delete confirmation

  function openRecordDialog(model, mode, row, onSaved) {
    const dialog = $("record-dialog");
    const form = $("record-form");
    const fields = model.fields.filter((f) => (mode === "create" ? f.create !== "absent" : f.patch));
    const originals = new Map();
    $("record-title").textContent = mode === "create" ? `New ${model.name}` : `Edit ${model.name} ${row[model.idField]}`;
    $("record-error").replaceChildren();
    const container = $("record-fields");
    container.replaceChildren(
      ...fields.map((field) => {
        const id = `field-${field.name}`;
        const value = mode === "edit" && !field.hidden ? row[field.name] : undefined;
        const input = fieldInput(field, id, mode === "create" && field.default && field.default.kind === "literal" ? field.default.value : value, mode);
        originals.set(field.name, input.value);
        const required = mode === "create" ? field.create === "required" : !field.optional;
        return h(
          "div",
          { class: "field" },
          h("label", { for: id }, field.name, required ? h("span", { "aria-hidden": "true" }, " *") : null, required ? h("span", { class: "visually-hidden" }, " (required)") : null),
          input,
          h("p", { class: "hint", id: `${id}-hint` }, fieldHint(field, mode)),
          h("p", { class: "field-error", id: `${id}-error`, hidden: true }),
        );
      }),
    );
    if (!fields.length) container.append(h("p", {}, "This model has no fields to set."));

    const submit = async (event) => {
      event.preventDefault();
      const body = {};
      const problems = [];
      for (const field of fields) {
        const input = form.elements.namedItem(field.name);
        if (mode === "edit" && input.value === originals.get(field.name)) continue;
        try {
          const value = parseInput(field, input.value, mode);
          if (value !== undefined) body[field.name] = value;
        } catch (message) {
          problems.push({ field: field.name, code: "invalid", message });
        }
      }
      clearFieldErrors(fields);
      if (problems.length) {
        showFormError(fields, { code: "invalid_input", message: "some values cannot be sent", details: problems });
        return;
      }
      if (mode === "edit" && !Object.keys(body).length) {
        close();
        return;
      }
      try {
        const saved = mode === "create" ? await api("POST", model.route, body) : await api("PATCH", `${model.route}/${encodeURIComponent(row[model.idField])}`, body);
        close();
        activity(`${mode === "create" ? "Created" : "Saved"} ${model.name} ${saved ? saved[model.idField] : ""}`);
        onSaved(saved);
      } catch (error) {
        showFormError(fields, error);
      }
    };
    const cancel = () => close();
    const close = () => dialog.close();
    form.addEventListener("submit", submit);
    $("record-cancel").addEventListener("click", cancel);
    dialog.addEventListener(
      "close",
      () => {
        form.removeEventListener("submit", submit);
        $("record-cancel").removeEventListener("click", cancel);
      },
      { once: true },
    );
    dialog.showModal();
    const first = container.querySelector("input, select, textarea");
    if (first) first.focus();
  }

  function clearFieldErrors(fields) {
    $("record-error").replaceChildren();
    for (const field of fields) {
      const input = $(`field-${field.name}`);
      const error = $(`field-${field.name}-error`);
      input.removeAttribute("aria-invalid");
      input.setAttribute("aria-describedby", `field-${field.name}-hint`);
      error.hidden = true;
      error.textContent = "";
    }
  }

  function showFormError(fields, error) {
    $("record-error").replaceChildren(...errorBlock(error));
    for (const detail of error.details || []) {
      const field = fields.find((f) => f.name === detail.field);
      if (!field) continue;
      const input = $(`field-${field.name}`);
      const message = $(`field-${field.name}-error`);
      message.textContent = detail.message;
      message.hidden = false;
      input.setAttribute("aria-invalid", "true");
      input.setAttribute("aria-describedby", `field-${field.name}-error field-${field.name}-hint`);
    }
  }

  function confirmDelete(text) {
    const dialog = $("confirm-dialog");
    $("confirm-text").textContent = text;
    dialog.returnValue = "";
    return new Promise((resolve) => {
      dialog.addEventListener("close", () => resolve(dialog.returnValue === "yes"), { once: true });
      dialog.showModal();
    });
  }

  // ---------------------------------------------------------------------------------------------------------
  // A model's view

  const OPERATOR_LABELS = {
    equals: "equals", not: "is not", in: "is one of", notIn: "is none of", lt: "<", lte: "≤", gt: ">", gte: "≥",
    contains: "contains", startsWith: "starts with", endsWith: "ends with", isNull: "is empty",
  };

  /** A control with its label above it. */
  function labelled(text, control) {
    return h("div", { class: "control" }, h("label", { for: control.id }, text), control);
  }

  /** The page of a row of `model`: its list filtered to that id. */
  function rowHref(slug, field, value) {
    return `#/${slug}?${new URLSearchParams({ [field]: String(value) })}`;
  }

  /** A reference's cell: a link to the referenced row, named by its label field when the read included it. */
  function referenceCell(field, value, related) {
    const target = meta.models.find((m) => m.name === field.link.model);
    const label = related && target && target.label ? related[target.label] : null;
    const text = label === null || label === undefined || label === "" ? String(value) : String(label);
    return h("a", { href: rowHref(field.link.slug, target ? target.idField : "id", value), title: `${field.link.model} ${value}` }, text);
  }

  /** `initial`: `[field, text]` pairs from the address (`#/messages?roomId=3`), each an `equals` filter. */
  function modelView(model, initial = []) {
    const columns = model.fields.filter((f) => f.column);
    const filterable = columns.filter((f) => f.filter.length);
    // The to-one relations of the reference columns: each read includes them for the links' labels.
    const include = columns.filter((f) => f.link).map((f) => f.link.relation).join(",");
    const state = { skip: 0, take: meta.defaultTake, order: null, filters: [], showDenied: false };
    let page = null; // { items, total, skip, take }
    let pageSeq = null; // the event the page reflects (over the socket), or null (over REST)
    let generation = 0;
    let refetchTimer = null;
    const changed = new Set();
    const channel = model.channels ? model.channels.list : null;

    const listError = h("div", { class: "error", role: "alert", id: "list-error" });
    const caption = h("caption", { id: "table-caption" });
    const thead = h("thead");
    const tbody = h("tbody");
    const range = h("p", { class: "range", id: "page-range", "aria-live": "polite" });
    const prev = h("button", { type: "button", onclick: () => go(state.skip - state.take) }, "Previous page");
    const next = h("button", { type: "button", onclick: () => go(state.skip + state.take) }, "Next page");
    const takeSelect = h("select", { id: "take", onchange: () => { state.take = Number(takeSelect.value); state.skip = 0; refetch(); } },
      TAKES.filter((t) => t <= meta.maxTake).map((t) => h("option", { value: t, selected: t === state.take }, t)));
    const chips = h("ul", { class: "chips", "aria-label": "Active filters" });

    // The filter form
    const fieldSelect = h("select", { id: "filter-field", onchange: () => fillOperators() }, filterable.map((f) => h("option", { value: f.name }, f.name)));
    const operatorSelect = h("select", { id: "filter-op", onchange: () => fillValue() });
    const valueBox = h("div", { class: "control" });
    let valueInput = null;
    function fillOperators() {
      const field = filterable.find((f) => f.name === fieldSelect.value);
      operatorSelect.replaceChildren(...(field ? field.filter : []).map((op) => h("option", { value: op }, OPERATOR_LABELS[op] || op)));
      fillValue();
    }
    function fillValue() {
      const field = filterable.find((f) => f.name === fieldSelect.value);
      const op = operatorSelect.value;
      if (!field) return;
      if (op === "isNull" || field.input === "bool") {
        valueInput = h("select", { id: "filter-value" }, h("option", { value: "true" }, "yes"), h("option", { value: "false" }, "no"));
      } else if (field.input === "select" && !field.listOperators.includes(op)) {
        valueInput = h("select", { id: "filter-value" }, field.values.map((v) => h("option", { value: v }, v)));
      } else {
        valueInput = h("input", { id: "filter-value", type: field.input === "date" && !field.listOperators.includes(op) ? "date" : "text", placeholder: field.listOperators.includes(op) ? "a, b, c" : "" });
      }
      valueBox.replaceChildren(h("label", { for: "filter-value" }, "Value"), valueInput);
    }
    const filterForm = h(
      "form",
      { class: "filter-form", role: "search", "aria-label": `Filter ${model.plural}`, onsubmit: (e) => { e.preventDefault(); addFilter(); } },
      labelled("Field", fieldSelect),
      labelled("Condition", operatorSelect),
      valueBox,
      h("button", { type: "submit" }, "Add filter"),
    );

    function operand(field, text) {
      if (field.input === "integer" || field.input === "number") {
        const n = Number(text);
        if (text.trim() === "" || Number.isNaN(n)) throw `${field.name}: "${text}" is not a number`;
        return n;
      }
      if (field.input === "bool") return text === "true";
      return text;
    }

    function addFilter() {
      const field = filterable.find((f) => f.name === fieldSelect.value);
      if (!field || !valueInput) return;
      const op = operatorSelect.value;
      const text = valueInput.value;
      let value;
      try {
        if (op === "isNull") value = text === "true";
        else if (field.listOperators.includes(op)) value = text.split(",").map((s) => s.trim()).filter((s) => s !== "").map((s) => operand(field, s));
        else value = operand(field, text);
      } catch (message) {
        listError.replaceChildren(...errorBlock({ code: "invalid_filter", message }));
        return;
      }
      state.filters.push({ field: field.name, op, value, text: op === "isNull" ? (value ? "yes" : "no") : text });
      state.skip = 0;
      renderChips();
      refetch();
    }

    function renderChips() {
      chips.replaceChildren(
        ...state.filters.map((f, i) =>
          h("li", {}, `${f.field} ${OPERATOR_LABELS[f.op] || f.op} ${f.text}`,
            h("button", { type: "button", "aria-label": `Remove filter ${f.field} ${OPERATOR_LABELS[f.op] || f.op} ${f.text}`, onclick: () => { state.filters.splice(i, 1); state.skip = 0; renderChips(); refetch(); } }, "×"))),
      );
      chips.hidden = !state.filters.length;
    }

    for (const [name, text] of initial) {
      const field = filterable.find((f) => f.name === name && f.filter.includes("equals"));
      if (!field) continue;
      try {
        state.filters.push({ field: name, op: "equals", value: operand(field, text), text });
      } catch (message) {
        listError.replaceChildren(...errorBlock({ code: "invalid_filter", message }));
      }
    }

    function params() {
      const p = { skip: state.skip, take: state.take };
      if (include) p.include = include;
      if (state.filters.length) p.where = { AND: state.filters.map((f) => ({ [f.field]: { [f.op]: f.value } })) };
      if (state.order) p.orderBy = [{ [state.order.field]: state.order.dir }];
      return p;
    }

    async function fetchPage() {
      const mine = ++generation;
      const p = params();
      let result;
      let seq = null;
      try {
        if (channel && live.isLive()) {
          const response = await live.request(model.name, "list", p);
          result = response.data;
          seq = response.seq;
        } else {
          const query = new URLSearchParams({ skip: p.skip, take: p.take });
          if (p.include) query.set("include", p.include);
          if (p.where) query.set("where", JSON.stringify(p.where));
          if (p.orderBy) query.set("orderBy", JSON.stringify(p.orderBy));
          result = await api("GET", `${model.route}?${query}`);
        }
      } catch (error) {
        if (mine !== generation) return;
        if (error.code === "disconnected") return; // the reconnect refetches
        listError.replaceChildren(...errorBlock(error));
        page = { items: [], total: 0, skip: state.skip, take: state.take };
        render();
        return;
      }
      if (mine !== generation) return;
      listError.replaceChildren();
      page = result;
      pageSeq = seq;
      if (!page.items.length && page.total > 0 && state.skip > 0) {
        go(Math.max(0, Math.floor((page.total - 1) / state.take) * state.take));
        return;
      }
      render();
    }

    function refetch(delay = 0) {
      clearTimeout(refetchTimer);
      refetchTimer = setTimeout(fetchPage, delay);
    }

    function go(skip) {
      state.skip = Math.max(0, skip);
      refetch();
    }

    function sortBy(field) {
      const current = state.order && state.order.field === field.name ? state.order.dir : null;
      state.order = current === null ? { field: field.name, dir: "asc" } : current === "asc" ? { field: field.name, dir: "desc" } : null;
      state.skip = 0;
      refetch();
    }

    function renderHead() {
      thead.replaceChildren(
        h("tr", {},
          columns.map((f) => {
            const dir = state.order && state.order.field === f.name ? state.order.dir : null;
            const sort = dir === "asc" ? "ascending" : dir === "desc" ? "descending" : null;
            const label = f.orderable
              ? h("button", { type: "button", onclick: () => sortBy(f), "aria-label": `${f.name}, sort ${dir === "asc" ? "descending" : dir === "desc" ? "by default order" : "ascending"}` },
                f.name, h("span", { "aria-hidden": "true" }, dir === "asc" ? " ▲" : dir === "desc" ? " ▼" : ""))
              : f.name;
            return h("th", { scope: "col", "aria-sort": sort }, label);
          }),
          h("th", { scope: "col" }, "Actions")),
      );
    }

    function render() {
      renderHead();
      const items = page ? page.items : [];
      tbody.replaceChildren(
        ...items.map((row) => {
          const id = String(row[model.idField]);
          const mayUpdate = state.showDenied || allowed(model.access.update, model, row);
          const mayDelete = state.showDenied || allowed(model.access.delete, model, row);
          const patchable = model.fields.some((f) => f.patch);
          const tr = h("tr", { class: changed.has(id) ? "changed" : null, dataset: { id } },
            columns.map((f) => {
              const shown = display(f, row[f.name]);
              const content = shown === null ? h("span", { "aria-label": "empty" }, "—") : f.link ? referenceCell(f, row[f.name], row[f.link.relation]) : shown;
              return h("td", { class: shown === null ? "empty" : null, "data-label": f.name }, content);
            }),
            h("td", { class: "actions" },
              model.relations.map((r) => h("a", { class: "relation", href: rowHref(r.slug, r.field, id), "aria-label": `${r.name} of ${model.name} ${id}` }, r.name)),
              mayUpdate && patchable ? h("button", { type: "button", onclick: () => openRecordDialog(model, "edit", row, () => refetch()), "aria-label": `Edit ${model.name} ${id}` }, "Edit") : null,
              mayDelete ? h("button", { type: "button", class: "danger", onclick: () => remove(row), "aria-label": `Delete ${model.name} ${id}` }, "Delete") : null));
          return tr;
        }),
      );
      if (!items.length) tbody.append(h("tr", {}, h("td", { colspan: columns.length + 1, class: "empty" }, state.filters.length ? "No record matches the filters." : "No records yet.")));
      changed.clear();
      const total = page ? page.total : 0;
      const first = items.length ? state.skip + 1 : 0;
      const last = state.skip + items.length;
      const text = `${first}–${last} of ${total}`;
      range.textContent = text;
      const sorted = state.order ? `, sorted by ${state.order.field} ${state.order.dir === "asc" ? "ascending" : "descending"}` : "";
      caption.textContent = `${model.plural}, ${text}${sorted}${channel ? (live.isLive() ? ", live" : ", not live") : ""}`;
      prev.disabled = state.skip <= 0;
      next.disabled = last >= total;
    }

    async function remove(row) {
      const id = row[model.idField];
      if (!(await confirmDelete(`Delete ${model.name} ${id}? This cannot be undone.`))) return;
      try {
        await api("DELETE", `${model.route}/${encodeURIComponent(id)}`);
        activity(`Deleted ${model.name} ${id}`);
        refetch();
      } catch (error) {
        listError.replaceChildren(h("p", {}, `Could not delete ${model.name} ${id}:`), ...errorBlock(error));
        listError.focus();
      }
    }

    const mayCreate = () => state.showDenied || allowed(model.access.create, model, undefined);
    const createButton = h("button", { type: "button", class: "primary", id: "create-button", onclick: () => openRecordDialog(model, "create", null, (saved) => { if (saved) changed.add(String(saved[model.idField])); refetch(); }) }, `New ${model.name}`);
    const deniedToggle = h("input", { type: "checkbox", id: "show-denied", onchange: () => { state.showDenied = deniedToggle.checked; createButton.hidden = !mayCreate(); render(); } });
    listError.tabIndex = -1;

    const rules = h("details", { class: "rules" },
      h("summary", {}, "Access rules"),
      h("dl", {}, ["read", "create", "update", "delete"].map((op) => [h("dt", {}, op), h("dd", {}, model.access[op].summary)])),
      h("p", { class: "hint" }, "The server enforces these; actions they deny you are hidden unless you show them."));

    const root = h("section", { "aria-labelledby": "model-title" },
      h("h1", { id: "model-title" }, model.plural),
      model.doc ? h("p", { class: "doc" }, model.doc) : null,
      !model.realtime ? h("p", { class: "hint" }, "This model is not realtime: the table refreshes after your own changes only.") : null,
      rules,
      h("div", { class: "toolbar" }, filterable.length ? filterForm : null, createButton,
        h("label", { class: "check" }, deniedToggle, "Show actions the rules deny")),
      chips,
      listError,
      h("div", { class: "table-wrap", role: "region", "aria-labelledby": "table-caption", tabindex: "0" }, h("table", { id: "records" }, caption, thead, tbody)),
      h("nav", { class: "pager", "aria-label": "Pages" }, prev, range, next, labelled("Rows per page", takeSelect)));

    fillOperators();
    renderChips();
    createButton.hidden = !mayCreate();
    render();

    const handler = {
      subscribed(message) {
        if (message.resumed === true) {
          activity(`Reconnected: resumed ${message.channel} after event ${message.since}.`);
        } else if (message.resumed === false) {
          activity(`Reconnected: could not resume ${message.channel} after event ${message.since}; refetched.`);
          refetch();
        } else if (pageSeq === null || pageSeq < message.seq) {
          refetch();
        }
      },
      update(message) {
        if (pageSeq !== null && message.seq <= pageSeq) return; // the page already reflects it
        activity(`${model.name} ${message.id} ${message.kind} (event ${message.seq})`);
        if (message.kind !== "deleted") changed.add(String(message.id));
        refetch(50);
      },
      refused(message) {
        listError.replaceChildren(h("p", {}, "Live updates are off for this list:"), ...errorBlock(message));
      },
    };

    return {
      root,
      start() {
        if (channel) live.watch(channel, handler);
        fetchPage();
      },
      stop() {
        clearTimeout(refetchTimer);
        generation++;
        if (channel) live.unwatch(channel);
      },
      connected() {
        render();
      },
      reload() {
        createButton.hidden = !mayCreate();
        refetch();
      },
    };
  }

  function homeView() {
    const root = h("section", { "aria-labelledby": "model-title" },
      h("h1", { id: "model-title" }, `${meta.crate} admin`),
      meta.description ? h("p", { class: "doc" }, meta.description) : null,
      h("ul", { class: "card-grid" },
        meta.models.map((m) => h("li", {},
          h("h2", {}, h("a", { href: `#/${m.slug}` }, m.plural)),
          m.doc ? h("p", { class: "doc" }, m.doc) : null,
          h("p", { class: "hint" }, `read: ${m.access.read.summary}; create: ${m.access.create.summary}; update: ${m.access.update.summary}; delete: ${m.access.delete.summary}`)))));
    return { root, start() {}, stop() {}, connected() {}, reload() {} };
  }

  // ---------------------------------------------------------------------------------------------------------
  // Routing

  function route() {
    const [slug, query = ""] = location.hash.replace(/^#\/?/, "").split("?");
    const model = meta.models.find((m) => m.slug === slug);
    if (view) view.stop();
    view = model ? modelView(model, [...new URLSearchParams(query)]) : homeView();
    for (const link of document.querySelectorAll("#model-nav a")) {
      if (link.getAttribute("href") === `#/${slug}` && model) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
    document.title = `${model ? model.plural + " – " : ""}${meta.crate} admin`;
    $("view").replaceChildren(view.root);
    view.start();
  }

  async function main() {
    try {
      meta = await (await fetch("/admin/models.json")).json();
    } catch (e) {
      $("view").replaceChildren(h("p", { class: "error", role: "alert" }, `Cannot load the models: ${e.message}`));
      return;
    }
    $("model-nav").replaceChildren(...meta.models.map((m) => h("li", {}, h("a", { href: `#/${m.slug}` }, m.plural))));
    identity = token ? decodeToken(token) : null;
    $("token-input").value = token;
    showIdentity();
    $("token-form").addEventListener("submit", (event) => {
      event.preventDefault();
      setToken($("token-input").value);
      activity(token ? "Token saved in this browser." : "Token cleared.");
    });
    $("token-clear").addEventListener("click", () => {
      $("token-input").value = "";
      setToken("");
      activity("Token forgotten.");
    });
    window.addEventListener("hashchange", () => {
      route();
      $("main").focus();
    });
    live.start();
    route();
  }

  main();
})();
