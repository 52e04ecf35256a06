// End-to-end: the real app (engine included) against a loopback SSE server written here,
// driven through the UI over plain WebDriver HTTP. Run by run.sh (Xvfb, session bus with
// D-Bus-activated dunst, isolated HOME, tauri-driver).
//
// Stable selectors this file relies on (also listed in docs/ipc.md, "Test ids"):
//   [data-testid=add-subscription]      button opening the add form
//   [data-testid=subscription-form]     the form; [data-testid=form-url], form-id, form-submit
//   [data-testid=form-add-rule]         adds a rule; [data-testid=rule-0-event] its event glob
//   [data-testid=subscription-row][data-id=ID]   a list row, with inside it
//   [data-testid=ready-state]           the badge: CONNECTING / OPEN / CLOSED
//   [data-testid=state-reason]          the reason of the last change
//   [data-testid=subscription-detail][data-id=ID] the detail view (click the row to open)
//   [data-testid=event-row]             a message of the detail list, newest first, with
//   [data-testid=event-type], [data-testid=event-data]
//   [data-testid=list-note]             below the list: its count, what retention removed
//   [data-testid=detail-count]          the detail header's count of events in history
//   [data-testid=message-search]        searches the subscription's messages
//   [data-testid=unread] (in a row)     its unread count; [data-testid=unread-total] the header's
//   [data-testid=form-cancel]           closes the form
//   [data-testid=open-import]           the import view: import-text, import-dry-run, diff-view,
//   [data-testid=import-trust-list]     what the input would run or read, with its checkbox
//   [data-testid=import-trust]; [data-testid=import-confirm] imports
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { helpers, required, run, until } from "./harness.mjs";
import { Session, sleep, waitForDriver } from "./webdriver.mjs";

const DRIVER = required("WEBDRIVER_URL");
const APP = required("SSENOTIFY_APP");
const CLI = required("SSENOTIFY_CLI");
const ID = "e2e";
const ROW = `[data-testid="subscription-row"][data-id="${ID}"]`;
const DETAIL = `[data-testid="subscription-detail"][data-id="${ID}"]`;

/**
 * A tiny SSE server: every GET gets a byte-exact text/event-stream; `send` writes raw bytes
 * to every open stream; requests (and their Last-Event-ID) are recorded. It can stop (and
 * drop every connection) and start again on the same port.
 */
class SseServer {
  constructor() {
    this.requests = [];
    this.streams = new Set();
    this.sockets = new Set();
    /** Paths answered 404 (a feed that is gone: EventSource fails for good). */
    this.gone = new Set();
    this.port = 0;
  }

  async start() {
    this.server = http.createServer((req, res) => {
      this.requests.push({ url: req.url, lastEventId: req.headers["last-event-id"] ?? null, at: Date.now() });
      if (this.gone.has(req.url)) {
        res.writeHead(404, { "content-type": "text/plain" });
        res.end("no such feed");
        return;
      }
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-store" });
      // A short retry so the reconnect after a restart is quick.
      res.write("retry: 300\n\n");
      this.streams.add(res);
      res.on("close", () => this.streams.delete(res));
    });
    this.server.on("connection", (s) => {
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
    });
    await new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(this.port, "127.0.0.1", resolve);
    });
    this.port = this.server.address().port;
  }

  send(bytes) {
    for (const res of this.streams) res.write(bytes);
  }

  async stop() {
    const closed = new Promise((resolve) => this.server.close(resolve));
    for (const s of this.sockets) s.destroy();
    await closed;
  }
}

let session;
const sse = new SseServer();
const { withScreenshot, click, waitForTexts, invoke } = helpers(() => session, "app");

before(async () => {
  await sse.start();
  await waitForDriver(DRIVER);
  session = await Session.create(DRIVER, { alwaysMatch: { "tauri:options": { application: APP } } });
  await session.waitForText("h1");
});

after(async () => {
  // The smoke test (same HOME, runs next) expects no subscriptions.
  await session
    ?.executeAsync(
      "const [id, done] = arguments; window.__TAURI_INTERNALS__.invoke('remove_subscription', { id }).then(done, done);",
      [ID],
    )
    .catch(() => {});
  await session?.delete().catch(() => {});
  await sse.stop().catch(() => {});
});

test("a subscription added through the form becomes OPEN", { timeout: 60_000 }, () =>
  withScreenshot("add-open", async () => {
    await click('[data-testid="add-subscription"]');
    await type('[data-testid="form-url"]', `http://127.0.0.1:${sse.port}/sse`);
    await type('[data-testid="form-id"]', ID);
    // Named events must notify too: one rule matching every type.
    await clickCentered('[data-testid="form-add-rule"]');
    await type('[data-testid="rule-0-event"]', "*");
    await clickCentered('[data-testid="form-submit"]');
    await waitForTexts(`${ROW} [data-testid="ready-state"]`, (ts) => ts[0] === "OPEN", 15_000);
    assert.ok(sse.requests.length >= 1, "the server saw the request");
    assert.equal(sse.requests[0].url, "/sse");
  }),
);

test("a named event shows in the detail list within a second and in dunst", { timeout: 60_000 }, (t) =>
  withScreenshot("named-event", async () => {
    await click(`${ROW} [data-testid="ready-state"]`);
    await waitForTexts(DETAIL, (ts) => ts.length > 0);
    await run("dunstctl", ["close-all"]).catch(() => {});
    const sent = Date.now();
    sse.send("event: deploy\nid: 41\ndata: deployed build e2e-41\n\n");
    await waitForTexts(`${DETAIL} [data-testid="event-data"]`, (ts) => ts.some((t) => t.includes("e2e-41")), 3_000);
    const took = Date.now() - sent;
    t.diagnostic(`event shown ${took} ms after the server sent it`);
    assert.ok(took < 1_000, `shown after ${took} ms`);
    const types = await waitForTexts(`${DETAIL} [data-testid="event-type"]`, (ts) => ts.length > 0);
    assert.equal(types[0], "deploy");
    // dunst lists a notification in its history once it is closed.
    const history = await until(async () => {
      await run("dunstctl", ["close-all"]);
      const { stdout } = await run("dunstctl", ["history"]);
      return stdout.includes("e2e-41") ? stdout : null;
    }, "the notification in dunst's history", 10_000);
    assert.match(history, /deployed build e2e-41/);
  }),
);

test("server down: CONNECTING with a reason; back: OPEN and Last-Event-ID sent", { timeout: 90_000 }, (t) =>
  withScreenshot("reconnect", async () => {
    const before = sse.requests.length;
    await sse.stop();
    await waitForTexts(`${ROW} [data-testid="ready-state"]`, (ts) => ts[0] === "CONNECTING", 10_000);
    // In plain words, with what to do (the technical text is the row's title and the
    // detail's "Details").
    const [reason] = await waitForTexts(
      `${ROW} [data-testid="state-reason"]`,
      (ts) => /^Connection refused: is the server running on 127\.0\.0\.1:\d+\?$/.test(ts[0] ?? ""),
      10_000,
    );
    t.diagnostic(`reason shown: ${reason}`);
    await sse.start(); // same port
    await waitForTexts(`${ROW} [data-testid="ready-state"]`, (ts) => ts[0] === "OPEN", 30_000);
    const resumed = sse.requests.slice(before);
    assert.ok(resumed.length >= 1, "the app reconnected");
    assert.equal(resumed.at(-1).lastEventId, "41", JSON.stringify(resumed));
  }),
);

test("markup in event data shows as literal text", { timeout: 60_000 }, () =>
  withScreenshot("literal-text", async () => {
    const img = "<img src=x onerror=alert(1)>";
    const script = "<script>window.__xss = 1</script>";
    sse.send(`event: xss\nid: 42\ndata: ${img}\n\nevent: xss\nid: 43\ndata: ${script}\n\n`);
    await waitForTexts(`${DETAIL} [data-testid="event-data"]`, (ts) => ts.some((t) => t.includes("<script>")), 5_000);
    const result = await session.executeAsync(
      `const done = arguments[arguments.length - 1];
       const detail = document.querySelector(${JSON.stringify(DETAIL)});
       const texts = [...detail.querySelectorAll('[data-testid="event-data"]')].map((e) => e.textContent);
       done({
         texts,
         imgs: detail.querySelectorAll("img").length,
         scripts: document.querySelectorAll("body script").length,
         xss: window.__xss === 1,
       });`,
    );
    assert.ok(result.texts.some((t) => t.includes(img)), JSON.stringify(result.texts));
    assert.ok(result.texts.some((t) => t.includes(script)), JSON.stringify(result.texts));
    assert.equal(result.imgs, 0, "no <img> element from the data");
    assert.equal(result.scripts, 0, "no <script> element from the data");
    assert.equal(result.xss, false, "the script did not run");
    // No alert() dialog opened either.
    await assert.rejects(session.cmd("GET", "/alert/text"), /no such alert/);
  }),
);

test("unread counts grow while a subscription is not shown and go when it is opened", { timeout: 60_000 }, () =>
  withScreenshot("unread", async () => {
    const unread = async () => {
      const { stdout } = await run(CLI, ["list", "--json"]);
      return JSON.parse(stdout).find((s) => s.id === ID)?.live?.unread;
    };
    await invoke("mark_read", { ids: null });
    await waitForTexts(`${ROW} [data-testid="unread"]`, (ts) => ts.length === 0, 5_000);
    // Away from the detail (it reads what it shows), three events arrive.
    await click('[data-testid="open-settings"]');
    sse.send("event: deploy\nid: u1\ndata: unread 1\n\nevent: deploy\nid: u2\ndata: unread 2\n\nevent: deploy\nid: u3\ndata: unread 3\n\n");
    await waitForTexts(`${ROW} [data-testid="unread"]`, (ts) => ts[0] === "3", 5_000);
    await waitForTexts('[data-testid="unread-total"]', (ts) => ts[0] === "3 unread events");
    assert.equal(await unread(), 3, "the daemon counts them");
    // Opening it reads them, in the window and in the daemon.
    await click(`${ROW} [data-testid="ready-state"]`);
    await waitForTexts(`${DETAIL} [data-testid="event-data"]`, (ts) => ts[0] === "unread 3", 5_000);
    await waitForTexts(`${ROW} [data-testid="unread"]`, (ts) => ts.length === 0, 5_000);
    await until(async () => ((await unread()) === 0 ? true : null), "the daemon's count back to 0", 5_000);
  }),
);

test("a 10,000-event burst leaves the window responsive", { timeout: 120_000 }, (t) =>
  withScreenshot("burst", async () => {
    let burst = "";
    for (let i = 0; i < 10_000; i++) burst += `id: b${i}\ndata: burst ${i}\n\n`;
    sse.send(burst);
    // While the app digests the burst: a click must answer within a second.
    await sleep(200);
    const clicked = Date.now();
    await click('[data-testid="add-subscription"]');
    await waitForTexts('[data-testid="subscription-form"]', (ts) => ts.length > 0, 5_000);
    const took = Date.now() - clicked;
    t.diagnostic(`click answered in ${took} ms during the burst`);
    assert.ok(took < 1_000, `the click took ${took} ms`);
    await click('[data-testid="form-cancel"]');
    // Every event arrived: the newest is at the top of the detail list.
    await click(`${ROW} [data-testid="ready-state"]`);
    await waitForTexts(`${DETAIL} [data-testid="event-data"]`, (ts) => ts[0] === "burst 9999", 20_000);
    // One truth: the list is what history holds, in its order, with the same count, and
    // what retention removed (max_events 1,000) is said, not silently missing.
    // History trims the newest rows to max_events within half a second: compare with what
    // it settles on.
    const history = await until(async () => {
      const { stdout } = await run(CLI, ["history", ID, "--limit", "100000", "--json"]);
      const rows = JSON.parse(stdout);
      return rows.length <= 1_000 ? rows : null;
    }, "history trimmed to max_events", 10_000);
    const count = history.length.toLocaleString("en-US");
    const [note] = await waitForTexts(`${DETAIL} [data-testid="list-note"]`, (ts) => ts[0]?.startsWith(`${count} messages · `), 10_000);
    assert.match(note, /^[\d,]+ messages · [\d,]+ older events removed by retention$/);
    const [total] = await waitForTexts(`${DETAIL} [data-testid="detail-count"]`, (ts) => ts.length > 0);
    assert.equal(total, ` · ${count} events in history`);
    const shown = await waitForTexts(`${DETAIL} [data-testid="event-data"]`, (ts) => ts.length > 5);
    assert.deepEqual(shown, history.slice(0, shown.length).map((e) => e.data));
    // Search looks through them all.
    await type('[data-testid="message-search"]', "burst 9500");
    await waitForTexts(`${DETAIL} [data-testid="event-data"]`, (ts) => ts.length === 1 && ts[0] === "burst 9500");
    const [found] = await waitForTexts(`${DETAIL} [data-testid="list-note"]`, (ts) => ts.length > 0);
    assert.equal(found, `1 match in ${count} messages`);
    t.diagnostic(`after the burst: ${note}`);
    const second = Date.now();
    await click('[data-testid="add-subscription"]');
    await waitForTexts('[data-testid="subscription-form"]', (ts) => ts.length > 0);
    t.diagnostic(`click answered in ${Date.now() - second} ms after the burst`);
    await click('[data-testid="form-cancel"]');
  }),
);

test("an import that would run a program needs a confirmation that names it", { timeout: 60_000 }, () =>
  withScreenshot("import-trust", async () => {
    const text = [
      "[[subscription]]",
      'id = "imported"',
      `url = "http://127.0.0.1:${sse.port}/imported"`,
      'rules = [{ action = "command", command = ["/bin/true", "from-import"] }]',
    ].join("\n");
    // Through IPC without trust: refused, naming the program, and nothing added.
    const refused = await invoke("import_subscriptions", { text, replace: false, dryRun: false });
    assert.match(refused.rejected?.message ?? "", /runs \["\/bin\/true", "from-import"\]/);
    const ids = (await invoke("list_subscriptions")).map((v) => v.spec.id);
    assert.ok(!ids.includes("imported"), `refused, yet listed: ${ids}`);

    await click('[data-testid="open-import"]');
    await waitForTexts('[data-testid="import-text"]', (ts) => ts.length > 0);
    // As a paste: WebKitWebDriver types no newlines into a textarea.
    await session.executeAsync(
      "const [text, done] = arguments; const t = document.querySelector('[data-testid=import-text]');" +
        "t.value = text; t.dispatchEvent(new Event('input')); done();",
      [text],
    );
    await click('[data-testid="import-dry-run"]');
    const [list] = await waitForTexts('[data-testid="import-trust-list"]', (ts) => ts.length > 0);
    assert.match(list, /imported: rule 1 runs \["\/bin\/true","from-import"\]/);
    assert.match(list, /allow it to run \/bin\/true/);
    const disabled = () =>
      session.executeAsync("const [done] = arguments; done(document.querySelector('[data-testid=import-confirm]').disabled);");
    assert.equal(await disabled(), true, "Import waits for the confirmation");
    await click('[data-testid="import-trust"]');
    assert.equal(await disabled(), false);
    await click('[data-testid="import-confirm"]');
    await waitForTexts('[data-testid="diff-view"]', (ts) => (ts[0] ?? "").includes("Imported: 1 added"));
    const after = (await invoke("list_subscriptions")).map((v) => v.spec.id);
    assert.ok(after.includes("imported"), `imported, yet not listed: ${after}`);
    await invoke("remove_subscription", { id: "imported" });
  }),
);

test("export saves to a file picked in the save dialog", { timeout: 60_000 }, () =>
  withScreenshot("export-file", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ssenotify-export-"));
    const target = join(dir, "my-feeds.toml");
    await click('[data-testid="open-import"]');
    await click('[data-testid="export-save"]');
    // The desktop's own save dialog (GTK): typed into as a user would, a path and Enter.
    const dialog = await until(async () => {
      const found = await run("xdotool", ["search", "--onlyvisible", "--name", "^Export subscriptions$"]).catch(() => null);
      return found?.stdout.trim().split("\n")[0] || null;
    }, "the save dialog", 15_000);
    await run("xdotool", ["windowfocus", "--sync", dialog]);
    await run("xdotool", ["key", "--clearmodifiers", "ctrl+a"]);
    await run("xdotool", ["type", "--delay", "20", target]);
    await run("xdotool", ["key", "Return"]);
    await waitForTexts('[data-testid="export-status"]', (ts) => ts[0] === `Saved to ${target}.`, 15_000);
    const saved = await readFile(target, "utf8");
    assert.match(saved, new RegExp(`id = "${ID}"`));
    const { stdout } = await run(CLI, ["export"]);
    assert.equal(saved.trimEnd(), stdout.trimEnd(), "the file holds what `ssenotify export` prints");
    assert.equal((await stat(target)).mode & 0o777, 0o600);
    await rm(dir, { recursive: true, force: true });
  }),
);

test("field errors show next to their fields as they are typed, a header's on its row", { timeout: 60_000 }, () =>
  withScreenshot("field-errors", async () => {
    await click('[data-testid="add-subscription"]');
    await type('[data-testid="form-url"]', "ftp://bad");
    const [url] = await waitForTexts('[data-testid="form-error-url"]', (ts) => (ts[0] ?? "").length > 0, 5_000);
    assert.match(url, /ftp/);
    await clickCentered('[data-testid="form-add-header"]');
    await type(".header-row .h-name", "Bad Name");
    const [header] = await waitForTexts('[data-testid="form-error-headers-0"]', (ts) => (ts[0] ?? "").length > 0, 5_000);
    assert.match(header, /not a valid header name/);
    // Each next to its own field: the URL's error stays the URL's.
    const placed = await session.executeAsync(
      `const done = arguments[arguments.length - 1];
       const url = document.querySelector('[data-testid="form-error-url"]');
       const header = document.querySelector('[data-testid="form-error-headers-0"]');
       done({
         url: !url.hidden && url.parentElement.contains(document.querySelector('[data-testid="form-url"]')),
         header: !header.hidden && header.closest(".header-row") !== null,
       });`,
    );
    assert.deepEqual(placed, { url: true, header: true });
    await clickCentered('[data-testid="form-cancel"]');
  }),
);

test("Retry now revives a subscription CLOSED for good", { timeout: 60_000 }, () =>
  withScreenshot("retry-now", async () => {
    const id = "gone";
    const row = `[data-testid="subscription-row"][data-id="${id}"]`;
    sse.gone.add("/gone");
    const added = await invoke("add_subscription", { input: { url: `http://127.0.0.1:${sse.port}/gone`, id, headers: [] } });
    assert.equal(added, id, JSON.stringify(added));
    await waitForTexts(`${row} [data-testid="ready-state"]`, (ts) => ts[0] === "CLOSED", 15_000);
    // The feed is back; EventSource would stay CLOSED, ssenotify tries again when asked.
    sse.gone.delete("/gone");
    await click(`${row} [data-testid="ready-state"]`);
    await click('[data-testid="detail-retry"]');
    await waitForTexts(`${row} [data-testid="ready-state"]`, (ts) => ts[0] === "OPEN", 15_000);
    await invoke("remove_subscription", { id });
  }),
);

/** Scrolls the element to the middle of the view (clear of sticky bars), then clicks it. */
async function clickCentered(css) {
  await waitForTexts(css, (ts) => ts.length > 0);
  await session.executeAsync(
    "const [css, done] = arguments; document.querySelector(css).scrollIntoView({ block: 'center' }); done();",
    [css],
  );
  await click(css);
}

/** Clears the input matching `css` and types `text` into it. */
async function type(css, text) {
  await waitForTexts(css, (ts) => ts.length > 0);
  const id = await session.find(css);
  await session.cmd("POST", `/element/${id}/clear`, {});
  await session.cmd("POST", `/element/${id}/value`, { text });
}
