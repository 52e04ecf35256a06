// A minimal W3C WebDriver client over fetch (Node 20 has it built in): just the commands the
// end-to-end tests use, so the suite needs no npm packages at all.
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";

const ELEMENT = "element-6066-11e4-a52e-4f735466cecf";

/** An error the WebDriver server returned (or a timeout of ours). */
export class WebDriverError extends Error {}

/** One WebDriver session against `base` (e.g. http://127.0.0.1:4444). */
export class Session {
  /** Creates a session; `capabilities` is the W3C `capabilities` object. */
  static async create(base, capabilities, { timeoutMs = 60_000 } = {}) {
    const value = await request(base, "POST", "/session", { capabilities }, timeoutMs);
    return new Session(base, value.sessionId);
  }

  constructor(base, id) {
    this.base = base;
    this.id = id;
  }

  /** Sends one command of this session; resolves to its `value`. */
  cmd(method, route, body, timeoutMs) {
    return request(this.base, method, `/session/${this.id}${route}`, body, timeoutMs);
  }

  /** The first element matching a CSS selector, or null. */
  async find(css) {
    const found = await this.cmd("POST", "/elements", { using: "css selector", value: css });
    return found.length ? found[0][ELEMENT] : null;
  }

  /** Waits until `css` matches (and `predicate(text)` holds, if given); returns its text. */
  async waitForText(css, predicate = () => true, { timeoutMs = 10_000 } = {}) {
    let last = "(no element)";
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const id = await this.find(css);
      if (id) {
        try {
          last = await this.cmd("GET", `/element/${id}/text`);
          if (predicate(last)) return last;
        } catch (err) {
          // The page re-rendered between find and read: try again.
          if (!String(err).includes("stale element")) throw err;
        }
      }
      await sleep(100);
    }
    throw new WebDriverError(`timed out waiting for ${css}; last text: ${JSON.stringify(last)}`);
  }

  /** Clicks the element matching `css` (waits for it first). */
  async click(css) {
    await this.waitForText(css);
    const id = await this.find(css);
    await this.cmd("POST", `/element/${id}/click`, {});
  }

  /** Runs an async script in the page: it gets a `done` callback as its last argument. */
  executeAsync(script, args = []) {
    return this.cmd("POST", "/execute/async", { script, args });
  }

  /** Sets the window's size (and position, if given): W3C "Set Window Rect". */
  setWindowRect(rect) {
    return this.cmd("POST", "/window/rect", rect);
  }

  /** Saves a PNG screenshot of the window to `file` (directories are created). */
  async screenshot(file, { timeoutMs = 10_000 } = {}) {
    const png = await this.cmd("GET", "/screenshot", undefined, timeoutMs);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, Buffer.from(png, "base64"));
    return file;
  }

  /** Ends the session (the driver quits the app). */
  async delete() {
    await request(this.base, "DELETE", `/session/${this.id}`);
  }
}

/** Waits until `base` answers /status with ready: true. */
export async function waitForDriver(base, { timeoutMs = 20_000 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let lastError;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${base}/status`);
      if (res.ok) return;
    } catch (err) {
      lastError = err;
    }
    await sleep(100);
  }
  throw new WebDriverError(`WebDriver at ${base} did not come up: ${lastError}`);
}

/** Sleeps `ms` milliseconds. */
export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function request(base, method, route, body, timeoutMs = 30_000) {
  const res = await fetch(`${base}${route}`, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    throw new WebDriverError(`${method} ${route}: HTTP ${res.status}: ${text.slice(0, 500)}`);
  }
  if (!res.ok || (json.value && json.value.error)) {
    const v = json.value ?? {};
    throw new WebDriverError(`${method} ${route}: ${v.error ?? res.status}: ${v.message ?? text}`);
  }
  return json.value;
}
