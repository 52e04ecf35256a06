// End-to-end smoke test: the real ssenotify-app in a real WebKitGTK webview, driven through
// tauri-driver. Run by run.sh, which provides the display, the session bus, the driver and
// isolated HOME/XDG directories (it passes their locations in the environment below).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { readFileSync, readdirSync, readlinkSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { Session, sleep, waitForDriver } from "./webdriver.mjs";

const run = promisify(execFile);
const here = path.dirname(new URL(import.meta.url).pathname);
const ARTIFACTS = process.env.WEBDRIVER_ARTIFACTS ?? path.join(here, "artifacts");
const DRIVER = required("WEBDRIVER_URL");
const APP = required("SSENOTIFY_APP");
// headless-env.sh points HOME and XDG_CONFIG_HOME into the run's temporary directory.
const HOME = required("HOME");
const CONFIG_DIR = path.join(required("XDG_CONFIG_HOME"), "ssenotify");
// Screenshots are always taken on failure; WEBDRIVER_SCREENSHOTS=1 keeps one per test too.
const ALWAYS_SCREENSHOT = process.env.WEBDRIVER_SCREENSHOTS === "1";

let session;

before(async () => {
  await waitForDriver(DRIVER);
  session = await Session.create(DRIVER, {
    alwaysMatch: { "tauri:options": { application: APP } },
  });
});

after(async () => {
  await session?.delete().catch(() => {});
});

test("the window shows the header and the empty state", { timeout: 60_000 }, () =>
  withScreenshot("empty-state", async () => {
    assert.equal(await session.waitForText("h1"), "ssenotify");
    // The status line comes from the app_info command: it proves IPC works under the CSP.
    // textContent through a script: WebDriver's element text reads "" for this element.
    let status = "";
    await until(async () => {
      status = await session.executeAsync(
        "const done = arguments[0]; done(document.querySelector('#status')?.textContent ?? '');",
      );
      return status.startsWith("engine");
    }, "the engine status line");
    // The app hosts the engine (app_info.engine = "running").
    assert.match(status, /^engine running/);
    assert.equal(await session.waitForText("#empty-state h2"), "No subscriptions yet");
    assert.equal(await session.waitForText("#try-demo"), "Try the demo feed");
  }),
);

test("clicking the demo button answers", { timeout: 30_000 }, () =>
  withScreenshot("demo-click", async () => {
    await session.click("#try-demo");
    const notice = await session.waitForText("#notice");
    assert.match(notice, /Demo feed added/);
    // Leave the empty state for the tests below.
    const removed = await session.executeAsync(
      "const done = arguments[arguments.length - 1];" +
        "window.__TAURI_INTERNALS__.invoke('remove_subscription', { id: 'demo' }).then(() => done('ok'), (e) => done(e));",
    );
    assert.equal(removed, "ok");
  }),
);

test("the app keeps its files in the test's own directories", { timeout: 30_000 }, () =>
  withScreenshot("isolation", async () => {
    const info = await session.executeAsync(
      "const done = arguments[arguments.length - 1];" +
        "window.__TAURI_INTERNALS__.invoke('app_info').then(done, (e) => done({ rejected: String(e) }));",
    );
    assert.equal(info.configDir, CONFIG_DIR);
    assert.equal(info.engine, "running");
  }),
);

test("the CSP blocks inline script and remote connections", { timeout: 30_000 }, () =>
  withScreenshot("csp", async () => {
    const result = await session.executeAsync(`
      const done = arguments[arguments.length - 1];
      const violations = [];
      document.addEventListener("securitypolicyviolation", (e) => violations.push(e.violatedDirective));
      const s = document.createElement("script");
      s.textContent = "window.__inlineRan = true";
      document.head.appendChild(s);
      fetch("http://127.0.0.1:9/").then(() => "fetched", (e) => "refused").then((remote) =>
        setTimeout(() => done({ inlineRan: window.__inlineRan === true, remote, violations }), 200));
    `);
    assert.equal(result.inlineRan, false, "inline script must not run");
    assert.equal(result.remote, "refused");
    assert.ok(result.violations.some((d) => d.startsWith("script-src")), JSON.stringify(result));
    assert.ok(result.violations.some((d) => d.startsWith("connect-src")), JSON.stringify(result));
  }),
);

test("the autostart setting writes a --hidden entry in the test's HOME", { timeout: 30_000 }, () =>
  withScreenshot("autostart", async () => {
    const invoke = (cmd, args) =>
      session.executeAsync(
        "const [cmd, args, done] = arguments;" +
          "window.__TAURI_INTERNALS__.invoke(cmd, args).then(done, (e) => done({ rejected: e }));",
        [cmd, args],
      );
    // The plugin's own commands are not granted to the window: only the app's are.
    const direct = await invoke("plugin:autostart|enable", {});
    assert.match(String(direct.rejected), /not allowed/, JSON.stringify(direct));
    const window = await invoke("plugin:window|close", {});
    assert.match(String(window.rejected), /not allowed/, JSON.stringify(window));
    assert.equal((await invoke("get_settings", {})).autostart, false);
    assert.deepEqual(await invoke("set_autostart", { enabled: true }), { autostart: true });
    const dir = path.join(HOME, ".config", "autostart");
    const entries = readdirSync(dir).filter((f) => f.endsWith(".desktop"));
    assert.equal(entries.length, 1, `one autostart entry in ${dir}`);
    const desktop = readFileSync(path.join(dir, entries[0]), "utf8");
    assert.match(desktop, /^Exec=.*ssenotify-app.* --hidden$/m);
    assert.deepEqual(await invoke("set_autostart", { enabled: false }), { autostart: false });
    assert.equal(readdirSync(dir).filter((f) => f.endsWith(".desktop")).length, 0);
  }),
);

test(
  "closing hides to the tray; a second launch shows the window and forwards its files",
  { timeout: 60_000 },
  (t) =>
    withScreenshot("hide-and-second-launch", async () => {
      const [window] = await visibleWindows();
      assert.ok(window, "the main window is mapped");
      const pid = Number((await run("xdotool", ["getwindowpid", window])).stdout.trim());
      t.diagnostic(`memory, window shown: ${formatMemory(treeMemory(pid))}`);

      await run("python3", [path.join(here, "wm-close.py"), window]);
      await until(async () => (await visibleWindows()).length === 0, "the window to close");
      assert.ok(isAlive(pid), "the app keeps running in the tray");
      // Let WebKit's processes wind down before measuring the hidden state.
      await sleep(2_000);
      t.diagnostic(`memory, window hidden: ${formatMemory(treeMemory(pid))}`);

      const second = await launchAgain(["subscriptions.toml"]);
      assert.equal(second.code, 0, `second launch exits at once (stderr: ${second.stderr})`);
      await until(async () => (await visibleWindows()).length === 1, "the window to return");
      assert.ok(isAlive(pid), "the first instance is still the one running");
      // The window is a new webview: point the session at it.
      const handles = await session.cmd("GET", "/window/handles");
      await session.cmd("POST", "/window", { handle: handles.at(-1) });
      const notice = await session.waitForText("#notice", (text) => text.startsWith("Open:"));
      assert.equal(notice, `Open: ${path.join(HOME, "subscriptions.toml")}`);
      assert.equal(await session.waitForText("#empty-state h2"), "No subscriptions yet");
      t.diagnostic(`memory, window shown again: ${formatMemory(treeMemory(pid))}`);
    }),
);

/** Runs `fn`; on failure saves a screenshot (and on success too with WEBDRIVER_SCREENSHOTS=1). */
async function withScreenshot(name, fn) {
  try {
    await fn();
  } catch (err) {
    await shoot(`${name}-FAILED`);
    throw err;
  }
  if (ALWAYS_SCREENSHOT) await shoot(name);
}

async function shoot(name) {
  const file = path.join(ARTIFACTS, `${name}.png`);
  try {
    // A WebDriver screenshot can lag the DOM a little: let the last render land.
    await sleep(500);
    await session.screenshot(file, { timeoutMs: 5_000 });
  } catch (err) {
    // WebKit cannot snapshot some pages (no accelerated compositing, a crashed web process):
    // take the whole X screen instead.
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

/** X ids of mapped windows titled exactly "ssenotify". */
async function visibleWindows() {
  try {
    const { stdout } = await run("xdotool", ["search", "--onlyvisible", "--name", "^ssenotify$"]);
    return stdout.split("\n").filter(Boolean);
  } catch (err) {
    if (err.code === 1) return []; // xdotool: nothing matched
    throw err;
  }
}

/** Starts the app a second time, from HOME, and waits for it to exit. */
function launchAgain(args) {
  return new Promise((resolve, reject) => {
    const child = spawn(APP, args, { cwd: HOME, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`the second launch did not exit within 10 s (stderr: ${stderr})`));
    }, 10_000);
    child.on("error", reject);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

async function until(check, what, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}

function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** PSS and RSS (kB) of `pid` and all its descendants (WebKit's web and network processes). */
function treeMemory(pid) {
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
  const queue = [pid];
  while (queue.length) {
    const p = queue.shift();
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

function formatMemory(processes) {
  const mb = (kb) => (kb / 1024).toFixed(1);
  const total = processes.reduce((sum, p) => sum + p.pss, 0);
  const totalRss = processes.reduce((sum, p) => sum + p.rss, 0);
  const parts = processes.map((p) => `${p.name}[${p.pid}] ${mb(p.pss)}`).join(", ");
  return `PSS ${mb(total)} MB (RSS ${mb(totalRss)} MB): ${parts}`;
}

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run tests/webdriver/run.sh`);
  // Never run against the real user's directories.
  if (name.startsWith("XDG_") || name === "HOME") {
    assert.ok(value.includes("ssenotify-e2e."), `${name}=${value} is not the run's own directory`);
  }
  return value;
}
