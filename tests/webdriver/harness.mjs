// What the end-to-end test files share: the environment run.sh provides, waiting, clicking a
// live list, screenshots on failure, IPC from the page, the X windows of the app, the
// engine's control socket and /proc memory figures.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync, readdirSync, readlinkSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { promisify } from "node:util";
import { sleep } from "./webdriver.mjs";

/** `execFile` as a promise of { stdout, stderr }. */
export const run = promisify(execFile);

const here = path.dirname(new URL(import.meta.url).pathname);
/** Where screenshots go. */
export const ARTIFACTS = process.env.WEBDRIVER_ARTIFACTS ?? path.join(here, "artifacts");
/** WEBDRIVER_SCREENSHOTS=1 keeps a screenshot of every test, not only of failures. */
const ALWAYS_SCREENSHOT = process.env.WEBDRIVER_SCREENSHOTS === "1";

/** An environment variable run.sh sets; HOME and XDG_* must be the run's own directories. */
export function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run tests/webdriver/run.sh`);
  // Never run against the real user's directories.
  if (name.startsWith("XDG_") || name === "HOME") {
    assert.ok(value.includes("ssenotify-e2e."), `${name}=${value} is not the run's own directory`);
  }
  return value;
}

/** Polls `check` until it returns something truthy, and returns that. */
export async function until(check, what, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await check();
    if (value) return value;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Test helpers bound to one WebDriver session (`getSession()` returns the current one). */
export function helpers(getSession, prefix) {
  /** Runs `fn`; on failure saves a screenshot (and on success too with WEBDRIVER_SCREENSHOTS=1). */
  async function withScreenshot(name, fn) {
    try {
      await fn();
    } catch (err) {
      await shoot(`${prefix}-${name}-FAILED`);
      throw err;
    }
    if (ALWAYS_SCREENSHOT) await shoot(`${prefix}-${name}`);
  }

  async function shoot(name) {
    const file = path.join(ARTIFACTS, `${name}.png`);
    try {
      // A WebDriver screenshot can lag the DOM a little: let the last render land.
      await sleep(500);
      await getSession().screenshot(file, { timeoutMs: 5_000 });
    } catch (err) {
      // No session, or WebKit cannot snapshot the page: take the whole X screen instead.
      console.error(`WebDriver screenshot failed (${err}); taking the X screen instead`);
      try {
        await run("import", ["-window", "root", file]);
      } catch (err2) {
        console.error(`screenshot ${name} failed: ${err2}`);
        return;
      }
    }
    console.error(`screenshot: ${file}`);
  }

  /** Clicks `css`, again if the live list re-rendered it between finding and clicking. */
  async function click(css) {
    for (let attempt = 0; ; attempt++) {
      try {
        return await getSession().click(css);
      } catch (err) {
        if (attempt >= 5 || !/stale element/.test(String(err))) throw err;
        await sleep(50);
      }
    }
  }

  /** Polls the textContent of every element matching `css` until `predicate(texts)` holds. */
  async function waitForTexts(css, predicate, timeoutMs = 10_000) {
    const deadline = Date.now() + timeoutMs;
    let texts = [];
    while (Date.now() < deadline) {
      texts = await getSession().executeAsync(
        "const [css, done] = arguments; done([...document.querySelectorAll(css)].map((e) => e.textContent));",
        [css],
      );
      if (predicate(texts)) return texts;
      await sleep(50);
    }
    throw new Error(`timed out waiting for ${css}; last texts: ${JSON.stringify(texts.slice(0, 5))}`);
  }

  /** Calls an IPC command from the page; resolves to its result or `{ rejected }`. */
  function invoke(cmd, args = {}) {
    return getSession().executeAsync(
      "const [cmd, args, done] = arguments;" +
        "window.__TAURI_INTERNALS__.invoke(cmd, args).then(done, (e) => done({ rejected: e }));",
      [cmd, args],
    );
  }

  return { withScreenshot, shoot, click, waitForTexts, invoke };
}

/** X ids of mapped windows titled exactly "ssenotify". */
export async function visibleWindows() {
  try {
    const { stdout } = await run("xdotool", ["search", "--onlyvisible", "--name", "^ssenotify$"]);
    return stdout.split("\n").filter(Boolean);
  } catch (err) {
    if (err.code === 1) return []; // xdotool: nothing matched
    throw err;
  }
}

/** The pid of the process that owns X window `window`. */
export async function windowPid(window) {
  return Number((await run("xdotool", ["getwindowpid", window])).stdout.trim());
}

/** Whether `pid` is alive (and not a zombie). */
export function isAlive(pid) {
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));
  } catch {
    return false;
  }
}

/** One request to the engine's control socket; resolves to its reply, or null if none runs. */
export function control(request) {
  const socket = path.join(required("XDG_RUNTIME_DIR"), "ssenotify", "ssenotify.sock");
  return new Promise((resolve) => {
    const c = net.createConnection(socket, () => c.write(`${JSON.stringify(request)}\n`));
    let buf = "";
    c.on("data", (d) => {
      buf += d;
      if (buf.includes("\n")) {
        c.end();
        resolve(JSON.parse(buf.slice(0, buf.indexOf("\n"))));
      }
    });
    c.on("error", () => resolve(null));
  });
}

/** The running engine's `daemon` report (pid, tray, notifier), or null if none answers. */
export async function engineStatus() {
  const reply = await control({ cmd: "status" });
  return reply?.reply === "status" ? { ...reply.daemon, subscriptions: reply.subscriptions } : null;
}

/** PSS and RSS (kB) of each pid and all its descendants (WebKit's web and network processes). */
export function treeMemory(...pids) {
  const children = new Map();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // The command name can contain spaces and parentheses: fields start after the last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(Number(entry));
    } catch {
      // The process exited while we looked.
    }
  }
  const processes = [];
  const seen = new Set();
  const queue = [...pids];
  while (queue.length) {
    const p = queue.shift();
    if (seen.has(p)) continue;
    seen.add(p);
    try {
      const rollup = readFileSync(`/proc/${p}/smaps_rollup`, "utf8");
      const field = (name) => Number(new RegExp(`^${name}:\\s+(\\d+)`, "m").exec(rollup)?.[1] ?? 0);
      const name = path.basename(readlinkSync(`/proc/${p}/exe`));
      processes.push({ pid: p, name, pss: field("Pss"), rss: field("Rss") });
    } catch {
      // Gone, or not ours to read.
    }
    queue.push(...(children.get(p) ?? []));
  }
  return processes;
}

/** One line for a test diagnostic. */
export function formatMemory(processes) {
  const mb = (kb) => (kb / 1024).toFixed(1);
  const total = processes.reduce((sum, p) => sum + p.pss, 0);
  const totalRss = processes.reduce((sum, p) => sum + p.rss, 0);
  const parts = processes.map((p) => `${p.name}[${p.pid}] ${mb(p.pss)}`).join(", ");
  return `PSS ${mb(total)} MB (RSS ${mb(totalRss)} MB): ${parts}`;
}

/**
 * Clicks the tray menu item labelled `label` of the engine `pid` the way a tray host does:
 * finds its StatusNotifierItem on the session bus, reads its dbusmenu layout and sends the
 * item a "clicked" event.
 */
export async function trayClick(pid, label) {
  const busctl = async (...args) =>
    // `--`: arguments such as -1 are values, not options.
    JSON.parse((await run("busctl", ["--user", "--json=short", "--", ...args])).stdout);
  const bus = ["org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus"];
  let names = [];
  // An engine that has just started says it has a tray before its item is on the bus.
  const item = await until(async () => {
    names = (await busctl("call", ...bus, "ListNames")).data[0];
    for (const name of names.filter((n) => n.startsWith("org.kde.StatusNotifierItem-"))) {
      const owner = await busctl("call", ...bus, "GetConnectionUnixProcessID", "s", name);
      if (owner.data[0] === pid) return name;
    }
    return null;
  }, `the engine (pid ${pid}) to have a StatusNotifierItem on the bus`).catch((error) => {
    assert.fail(`${error.message}: ${names.join(" ")}`);
  });
  const menu = (await busctl("get-property", item, "/StatusNotifierItem", "org.kde.StatusNotifierItem", "Menu")).data;
  const layout = (await busctl("call", item, menu, "com.canonical.dbusmenu", "GetLayout", "iias", "0", "-1", "0"))
    .data[1];
  const find = ([id, props, children]) => {
    if (props.label?.data === label) return id;
    for (const child of children) {
      const found = find(child.data);
      if (found !== undefined) return found;
    }
    return undefined;
  };
  const id = find(layout);
  assert.notEqual(id, undefined, `a menu item "${label}" in ${JSON.stringify(layout)}`);
  await run("busctl", ["--user", "--", "call", item, menu, "com.canonical.dbusmenu", "Event", "isvu", String(id), "clicked", "s", "", "0"]);
}
