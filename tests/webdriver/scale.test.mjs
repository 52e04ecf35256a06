// End-to-end: the real app with 10,000 subscriptions. Every one is a live stream of one
// loopback server (not paused): the window then starts with 10,000 state changes arriving
// in a burst, which is what the engine's batching and the virtual list are for, and every
// row shows a live state. Checks that the list keeps only a window of rows in the DOM, that
// scrolling to the end shows the last subscription, that the filter finds one, and that a
// click on a row opens its details within 100 ms, measured in the page from the click
// event to the frame after the details are in the document. Run by run.sh.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { helpers, required, run, until } from "./harness.mjs";
import { Session, waitForDriver } from "./webdriver.mjs";

const DRIVER = required("WEBDRIVER_URL");
const APP = required("SSENOTIFY_APP");
const CLI = required("SSENOTIFY_CLI");
const HOME = required("HOME");
const COUNT = 10_000;
const LAST = `s${COUNT - 1}`;
const row = (id) => `[data-testid="subscription-row"][data-id="${id}"]`;

let session;
const { withScreenshot, click } = helpers(() => session, "scale");

// Holds every stream open after a comment: 10,000 idle feeds.
const sockets = new Set();
const server = http.createServer((_req, res) => {
  res.writeHead(200, { "content-type": "text/event-stream" });
  res.write(": idle\n\n");
});
server.on("connection", (s) => {
  sockets.add(s);
  s.on("close", () => sockets.delete(s));
});

/** A script run in the page; its last argument is `done`. */
function page(script, args = []) {
  return session.executeAsync(script, args);
}

before(async () => {
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${server.address().port}`;
  let file = "version = 1\n";
  for (let i = 0; i < COUNT; i++) file += `\n[[subscription]]\nid = "s${i}"\nurl = "${url}/idle/${i}"\n`;
  const input = path.join(HOME, "scale.toml");
  writeFileSync(input, file);
  // Through the CLI, as a user would: a running engine applies it at once.
  await run(CLI, ["import", input], { maxBuffer: 16 * 1024 * 1024 });
  await waitForDriver(DRIVER);
  session = await Session.create(DRIVER, { alwaysMatch: { "tauri:options": { application: APP } } });
  await session.waitForText("h1");
});

after(async () => {
  // The next file (same HOME) expects no subscriptions: replace them all with none.
  const empty = path.join(HOME, "empty.toml");
  writeFileSync(empty, "version = 1\n");
  await run(CLI, ["import", "--replace", empty], { maxBuffer: 16 * 1024 * 1024 }).catch(() => {});
  await session?.delete().catch(() => {});
  for (const s of sockets) s.destroy();
  await new Promise((resolve) => server.close(resolve));
});

test("10,000 subscriptions: all live, a window of rows, the last one reachable", { timeout: 180_000 }, () =>
  withScreenshot("list", async () => {
    // Every one OPEN, and the list read from the file (file order: s0, s1, s2, ...; the
    // engine's snapshot alone lists them by id: s0, s1, s10, ...).
    await until(async () => {
      const [status, third] = await page(
        "const done = arguments[0]; done([document.querySelector('#status')?.textContent ?? ''," +
          " document.querySelectorAll('[data-testid=\"subscription-row\"]')[2]?.dataset.id]);",
      );
      const count = COUNT.toLocaleString("en-US");
      return status.includes(`${count} subscriptions, ${count} open`) && third === "s2";
    }, "every subscription OPEN and listed", 150_000);
    const rows = await page("const done = arguments[0]; done(document.querySelectorAll('[data-testid=\"subscription-row\"]').length);");
    assert.ok(rows > 0 && rows < 100, `${rows} rows in the DOM for ${COUNT} subscriptions`);
    await page(
      "const done = arguments[0]; const list = document.querySelector('[data-testid=\"subscription-list\"]');" +
        "list.scrollTop = list.scrollHeight; done();",
    );
    await until(
      () => page(`const done = arguments[0]; done(!!document.querySelector(${JSON.stringify(row(LAST))}));`),
      "the last subscription's row",
    );
    const after = await page("const done = arguments[0]; done(document.querySelectorAll('[data-testid=\"subscription-row\"]').length);");
    assert.ok(after < 100, `${after} rows in the DOM after scrolling to the end`);
  }),
);

test("a click on a row opens its details within 100 ms", { timeout: 60_000 }, () =>
  withScreenshot("click", async () => {
    // Stamped in the page: when the click event arrives, and the frame after the details
    // are in the document.
    await page(
      "const [detail, done] = arguments; window.__clicked = null; window.__shown = null;" +
        "document.addEventListener('click', () => { window.__clicked ??= performance.now(); }, { capture: true, once: true });" +
        "const seen = new MutationObserver(() => { if (!document.querySelector(detail)) return; seen.disconnect();" +
        "  requestAnimationFrame(() => { window.__shown = performance.now(); }); });" +
        "seen.observe(document.body, { childList: true, subtree: true }); done();",
      [`[data-testid="subscription-detail"][data-id="${LAST}"]`],
    );
    await click(`${row(LAST)} [data-testid="state-reason"]`);
    const [clicked, shown] = await until(async () => {
      const stamps = await page("const done = arguments[0]; done([window.__clicked, window.__shown]);");
      return stamps[1] !== null ? stamps : null;
    }, "the details");
    const took = shown - clicked;
    console.error(`click to details: ${took.toFixed(1)} ms with ${COUNT} subscriptions`);
    assert.ok(took < 100, `the details took ${took.toFixed(1)} ms`);
  }),
);

test("the filter finds one subscription among 10,000", { timeout: 60_000 }, () =>
  withScreenshot("filter", async () => {
    const id = await session.find('[data-testid="subscription-filter"]');
    await session.cmd("POST", `/element/${id}/value`, { text: "s4321" });
    await until(async () => {
      const ids = await page(
        "const done = arguments[0]; done([...document.querySelectorAll('[data-testid=\"subscription-row\"]')].map((r) => r.dataset.id));",
      );
      return ids.length === 1 && ids[0] === "s4321";
    }, "only s4321 listed");
  }),
);
