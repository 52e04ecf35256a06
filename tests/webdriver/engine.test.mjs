// End-to-end: the window and the engine are two processes. The app starts the engine
// (`ssenotify run --tray`) when none runs, follows it over the control socket, brings it
// back when it dies, closes with it when it quits, and uses (and names) a headless
// `ssenotify run` that was already there. Run by run.sh.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import path from "node:path";
import http from "node:http";
import {
  engineStatus,
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
import { Session, waitForDriver } from "./webdriver.mjs";

const DRIVER = required("WEBDRIVER_URL");
const APP = required("SSENOTIFY_APP");
const CLI = required("SSENOTIFY_CLI");
const ID = "engine-e2e";
const BADGE = `[data-testid="subscription-row"][data-id="${ID}"] [data-testid="ready-state"]`;

let session;
let headless;
const requests = [];
const { withScreenshot, waitForTexts, invoke, click } = helpers(() => session, "engine");

// A loopback SSE server that keeps every stream open.
const server = http.createServer((req, res) => {
  requests.push({ at: Date.now(), lastEventId: req.headers["last-event-id"] ?? null });
  res.writeHead(200, { "content-type": "text/event-stream" });
  res.write("retry: 200\n\nid: 7\ndata: hello\n\n");
});

async function newSession() {
  await session?.delete().catch(() => {});
  session = await Session.create(DRIVER, { alwaysMatch: { "tauri:options": { application: APP } } });
  await session.waitForText("h1");
}

/** The notice the UI shows about the engine, "" when hidden. */
async function engineNotice() {
  const [text] = await waitForTexts('[data-testid="engine-notice"]', (ts) => ts.length === 1);
  const hidden = await session.executeAsync(
    "const done = arguments[0]; done(document.querySelector('[data-testid=\"engine-notice\"]').hidden);",
  );
  return hidden ? "" : text;
}

before(async () => {
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  await waitForDriver(DRIVER);
  await newSession();
});

after(async () => {
  // The smoke test (same HOME, runs next) expects no subscriptions; the window may be gone.
  await run(CLI, ["remove", ID]).catch(() => {});
  await session?.delete().catch(() => {});
  if (headless && isAlive(headless.pid)) {
    headless.kill("SIGTERM");
    await until(async () => !isAlive(headless.pid), "the headless daemon to stop").catch(() => {});
  }
  server.closeAllConnections();
  server.close();
});

test("the app starts the engine in a process of its own, without WebKit, with a tray icon", { timeout: 60_000 }, () =>
  withScreenshot("started", async () => {
    const engine = await until(engineStatus, "the engine to answer");
    assert.equal(engine.tray, true);
    const [window] = await visibleWindows();
    assert.notEqual(engine.pid, await windowPid(window));
    // The whole point of the split: nothing of GTK or WebKit is mapped in the engine.
    const maps = readFileSync(`/proc/${engine.pid}/maps`, "utf8");
    assert.doesNotMatch(maps, /libwebkit2gtk|libgtk-3/);
    // The window draws without GPU compositing (WebKit's web process gets the switch); the
    // engine, and the browser it may open for a notification's click, do not inherit it.
    const environ = (pid) => readFileSync(`/proc/${pid}/environ`, "utf8").split("\0");
    const web = treeMemory(await windowPid(window)).find((p) => p.name === "WebKitWebProcess");
    assert.ok(web, "the window has a WebKit web process");
    assert.ok(environ(web.pid).includes("WEBKIT_DISABLE_COMPOSITING_MODE=1"));
    assert.ok(!environ(engine.pid).some((v) => v.startsWith("WEBKIT_DISABLE_COMPOSITING_MODE=")));
    // Its log (the app redirects the engine's stderr there) is the user's alone.
    const log = path.join(required("XDG_DATA_HOME"), "ssenotify", "daemon.log");
    assert.equal(statSync(log).mode & 0o777, 0o600);
    // No tray host runs under Xvfb: the window says closing it leaves nothing to click.
    const notice = await until(async () => {
      const text = await engineNotice();
      return /shows no tray icons/.test(text) ? text : null;
    }, "the notice that no tray icon can be seen");
    assert.match(notice, /Settings → Quit/);
    const info = await invoke("app_info");
    assert.equal(info.engine, "running");
    assert.equal(info.enginePid, engine.pid);
    // Information, not an alarm: it can be put away for good.
    assert.equal(info.dismissible, true);
    const role = await session.executeAsync(
      "const done = arguments[0]; done(document.querySelector('[data-testid=\"engine-notice\"]').getAttribute('role'));",
    );
    assert.equal(role, "status");
    await click('[data-testid="engine-notice-dismiss"]');
    await until(async () => (await engineNotice()) === "", "the notice to go when dismissed");
    await newSession();
    // Once the header shows the engine, the notice has been decided.
    await waitForTexts('[data-testid="app-status"]', (ts) => /engine running/.test(ts[0] ?? ""));
    assert.equal(await engineNotice(), "", "a dismissed notice stays away in a new window");
  }),
);

test("an engine that dies is started again; the window says so meanwhile", { timeout: 60_000 }, (t) =>
  withScreenshot("respawn", async () => {
    const added = await invoke("add_subscription", { input: { url: `http://127.0.0.1:${server.address().port}/`, id: ID } });
    assert.equal(added, ID, JSON.stringify(added));
    await waitForTexts(BADGE, (ts) => ts[0] === "OPEN", 15_000);
    const before = await engineStatus();
    const seen = requests.length;
    process.kill(before.pid, "SIGKILL");
    const notice = await until(async () => {
      const text = await engineNotice();
      return /stopped unexpectedly/.test(text) ? text : null;
    }, "the window to say the engine stopped");
    t.diagnostic(`notice: ${notice}`);
    const after = await until(async () => {
      const status = await engineStatus();
      return status && status.pid !== before.pid ? status : null;
    }, "a new engine", 15_000);
    assert.equal(after.tray, true);
    await until(
      async () => !/stopped unexpectedly/.test(await engineNotice()),
      "the notice to go once the engine is back",
    );
    await waitForTexts(BADGE, (ts) => ts[0] === "OPEN", 15_000);
    // The new engine resumed where the old one was: history gave it the last event ID.
    assert.ok(requests.length > seen);
    assert.equal(requests.at(-1).lastEventId, "7");
  }),
);

test("the window closes when the engine quits (tray Quit)", { timeout: 60_000 }, () =>
  withScreenshot("quit", async () => {
    const [window] = await visibleWindows();
    const appPid = await windowPid(window);
    const engine = await engineStatus();
    await trayClick(engine.pid, "Quit");
    await until(async () => !isAlive(engine.pid), "the engine to quit");
    await until(async () => !isAlive(appPid), "the window's app to exit with it");
    assert.equal(await engineStatus(), null, "nothing answers on the control socket");
    await session.delete().catch(() => {});
    session = null;
  }),
);

test("with a headless `ssenotify run` already running, the app uses it and says so", { timeout: 60_000 }, () =>
  withScreenshot("headless", async () => {
    headless = spawn(CLI, ["run"], { stdio: "ignore" });
    const engine = await until(engineStatus, "the headless daemon to answer");
    assert.equal(engine.pid, headless.pid);
    assert.equal(engine.tray, false);
    await newSession();
    const notice = await until(engineNotice, "the notice about the headless daemon");
    assert.match(notice, /without a tray icon/);
    assert.match(notice, new RegExp(`pid ${headless.pid}`));
    assert.equal((await invoke("app_info")).engine, "external");
    // Same file, same subscriptions: the headless daemon runs the one added above.
    await waitForTexts(BADGE, (ts) => ts[0] === "OPEN", 15_000);
    assert.equal((await engineStatus()).pid, headless.pid, "no second engine was started");
  }),
);

test("Quit in the window stops the engine, and the window closes with it", { timeout: 60_000 }, () =>
  withScreenshot("window-quit", async () => {
    const [window] = await visibleWindows();
    const appPid = await windowPid(window);
    const exited = new Promise((resolve) => headless.once("exit", (code) => resolve(code)));
    await session.click('[data-testid="open-settings"]');
    // The window may be gone before the driver answers the click: judge by what follows.
    await session.click('[data-testid="settings-quit"]').catch(() => {});
    assert.equal(await exited, 0, "the daemon stopped cleanly");
    await until(async () => !isAlive(appPid), "the window's app to exit with the engine");
    assert.equal(await engineStatus(), null);
    // The driver still counts the session until it is deleted (it allows one at a time).
    await session.delete().catch(() => {});
    session = null;
  }),
);
