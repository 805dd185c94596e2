// What the node tests of the generated TypeScript client share: the generated chat server, started from
// $SSOT_SERVER_BIN on $SSOT_DATABASE_URL at a fixed port (so it can be killed and started again where clients expect
// it), HS256 tokens, a TCP proxy that can be paused and cut, and a seeded random source.
// tests/typescript_server.rs sets the environment: SSOT_SERVER_BIN, SSOT_DATABASE_URL, SSOT_JWT_SECRET,
// SSOT_CLIENT_DIR (the generated crate's clients/ts).

import { spawn } from "node:child_process";
import { createHmac, randomUUID } from "node:crypto";
import net from "node:net";
import path from "node:path";
import readline from "node:readline";
import { pathToFileURL } from "node:url";

export const SECRET = process.env.SSOT_JWT_SECRET ?? "ts-test-secret";

/** The generated package, loaded from its dist/ as a browser would. */
export async function loadClient() {
  const dir = process.env.SSOT_CLIENT_DIR;
  if (!dir) throw new Error("SSOT_CLIENT_DIR names the generated clients/ts folder");
  return import(pathToFileURL(path.join(dir, "dist/index.js")).href);
}

/** A free local port. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** An HS256 JWT for `sub`, valid for an hour. */
export function token(sub, roles = []) {
  const b64 = (value) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const body = `${b64({ alg: "HS256", typ: "JWT" })}.${b64({ sub, roles, exp: Math.floor(Date.now() / 1000) + 3600 })}`;
  return `${body}.${createHmac("sha256", SECRET).update(body).digest("base64url")}`;
}

export const adminToken = () => token(randomUUID(), ["admin"]);

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
export { sleep };

/** The generated server on a port of its own; `restart()` kills it (SIGKILL) and starts it again there. */
export class Server {
  static async start(env = {}) {
    const server = new Server(await freePort(), env);
    await server.spawn();
    return server;
  }

  constructor(port, env) {
    this.port = port;
    this.env = env;
    this.child = null;
    this.log = [];
  }

  get base() {
    return `http://127.0.0.1:${this.port}`;
  }

  async spawn() {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.spawnOnce();
        return;
      } catch (error) {
        // The port was just released: binding it again may race with the old socket's close.
        if (attempt >= 20) throw error;
        await sleep(100);
      }
    }
  }

  spawnOnce() {
    const binary = process.env.SSOT_SERVER_BIN;
    const database = process.env.SSOT_DATABASE_URL;
    if (!binary || !database) throw new Error("SSOT_SERVER_BIN and SSOT_DATABASE_URL name the server and its database");
    const child = spawn(binary, [], {
      env: {
        ...process.env,
        BIND_ADDR: `127.0.0.1:${this.port}`,
        DATABASE_URL: database,
        JWT_SECRET: SECRET,
        JWT_LEEWAY_SECS: "0",
        RUST_LOG: "warn",
        NO_COLOR: "1",
        ...this.env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stderr.on("data", (chunk) => this.log.push(String(chunk)));
    return new Promise((resolve, reject) => {
      const lines = readline.createInterface({ input: child.stdout });
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        reject(new Error(`the server did not start:\n${this.log.join("")}`));
      }, 30_000);
      lines.once("line", (line) => {
        clearTimeout(timer);
        if (line.startsWith("listening on ")) {
          this.child = child;
          resolve();
        } else {
          reject(new Error(`unexpected first line ${line}`));
        }
      });
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`the server exited with ${code}:\n${this.log.join("")}`));
      });
    });
  }

  async kill() {
    const child = this.child;
    this.child = null;
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGKILL");
      await exited;
    }
  }

  async restart() {
    await this.kill();
    await this.spawn();
  }

  /** One REST call with a token; the parsed answer and status. */
  async rest(method, route, tokenValue, body) {
    const response = await fetch(`${this.base}${route}`, {
      method,
      headers: { Authorization: `Bearer ${tokenValue}`, ...(body ? { "Content-Type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await response.text();
    return { status: response.status, json: text ? JSON.parse(text) : null, headers: response.headers };
  }
}

/** A TCP proxy in front of `port`: `pause()` stops forwarding, `cut()` drops every connection. */
export class Proxy {
  static async start(port) {
    const proxy = new Proxy(port);
    await new Promise((resolve) => proxy.server.listen(0, "127.0.0.1", resolve));
    proxy.port = proxy.server.address().port;
    return proxy;
  }

  constructor(target) {
    this.sockets = new Set();
    this.paused = false;
    this.server = net.createServer((client) => {
      const upstream = net.connect(target, "127.0.0.1");
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on("close", () => this.sockets.delete(socket));
        socket.on("error", () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.on("data", (data) => this.paused || upstream.write(data));
      upstream.on("data", (data) => this.paused || client.write(data));
      client.on("end", () => upstream.end());
      upstream.on("end", () => client.end());
    });
  }

  get base() {
    return `http://127.0.0.1:${this.port}`;
  }

  pause() {
    this.paused = true;
  }

  /** Drops every connection (and resumes forwarding for the next ones). */
  cut() {
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    this.paused = false;
  }

  close() {
    this.cut();
    return new Promise((resolve) => this.server.close(resolve));
  }
}

/** A seeded random source (mulberry32): the same sequence on every run. */
export function seeded(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Polls `probe` until it returns a truthy value; rejects with the last state after `timeoutMs`. */
export async function until(what, probe, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      last = await probe();
      if (last === true || (last && last.ok)) return last;
    } catch (error) {
      last = error.message;
    }
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what} (last: ${typeof last === "object" ? JSON.stringify(last) : last})`);
}
