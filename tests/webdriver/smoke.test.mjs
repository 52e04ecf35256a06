// End-to-end smoke test: the real ssenotify-app in a real WebKitGTK webview, driven through
// tauri-driver. Run by run.sh, which provides the display, the session bus, the driver and
// isolated HOME/XDG directories (it passes their locations in the environment below).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import {
  engineStatus,
  formatMemory,
  helpers,
  isAlive,
  required,
  run,
  trayClick,
  treeMemory,
  until,
  visibleWindows,
  windowPid,
} from "./harness.mjs";
import { Session, sleep, waitForDriver } from "./webdriver.mjs";

const here = path.dirname(new URL(import.meta.url).pathname);
const DRIVER = required("WEBDRIVER_URL");
const APP = required("SSENOTIFY_APP");
// headless-env.sh points HOME and XDG_CONFIG_HOME into the run's temporary directory.
const HOME = required("HOME");
const CONFIG_DIR = path.join(required("XDG_CONFIG_HOME"), "ssenotify");

let session;
const { withScreenshot } = helpers(() => session, "smoke");

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
  "closing the window ends the app and the engine stays; the tray and a second launch bring it back",
  { timeout: 90_000 },
  (t) =>
    withScreenshot("hide-and-show", async () => {
      const [window] = await visibleWindows();
      assert.ok(window, "the main window is mapped");
      const appPid = await windowPid(window);
      const engine = await engineStatus();
      assert.ok(engine, "the engine answers on its control socket");
      assert.notEqual(engine.pid, appPid, "the engine is a process of its own");
      assert.equal(engine.tray, true, "the engine the app started shows a tray icon");
      t.diagnostic(`memory, window shown: ${formatMemory(treeMemory(appPid, engine.pid))}`);

      // A second launch while the window is open forwards its files and exits at once.
      const second = await launchAgain(["subscriptions.toml"]);
      assert.equal(second.code, 0, `second launch exits at once (stderr: ${second.stderr})`);
      const notice = await session.waitForText("#notice", (text) => text.startsWith("Open:"));
      assert.equal(notice, `Open: ${path.join(HOME, "subscriptions.toml")}`);

      // Close: the window's process ends (WebKit with it), the engine carries on.
      await run("python3", [path.join(here, "wm-close.py"), window]);
      await until(async () => !isAlive(appPid), "the app to exit when its window closes");
      // The X server drops the window when it notices the client is gone: a moment later.
      await until(async () => (await visibleWindows()).length === 0, "the window to go");
      await sleep(1_000);
      const after = await engineStatus();
      assert.equal(after?.pid, engine.pid, "the same engine still answers");
      t.diagnostic(`memory, window closed to the tray: ${formatMemory(treeMemory(engine.pid))}`);

      // The tray menu's "Show window", clicked over D-Bus as a tray host would.
      await trayClick(engine.pid, "Show window");
      const [shown] = await until(async () => {
        const windows = await visibleWindows();
        return windows.length === 1 ? windows : null;
      }, "the tray to open the window again", 20_000);
      const shownPid = await windowPid(shown);
      assert.notEqual(shownPid, appPid, "a new window process");
      await sleep(2_000);
      t.diagnostic(`memory, window shown again: ${formatMemory(treeMemory(shownPid, engine.pid))}`);
      await run("python3", [path.join(here, "wm-close.py"), shown]);
      await until(async () => !isAlive(shownPid), "the reopened window's app to exit");
    }),
);

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
