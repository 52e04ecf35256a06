import { describe, expect, it } from "vitest";
import type { LiveEvent, StoredEvent, SubscriptionStatus, UpdatePayload } from "./api";
import {
  applyChanges,
  applyHistory,
  applyStats,
  applyHistoryAll,
  applyList,
  applyUpdate,
  category,
  emptyStore,
  matchingIds,
  removeSub,
  plural,
  mergeEvents,
  pushTimeline,
  rowView,
  summary,
  fromStored,
  formatTime,
} from "./store";

const status = (id: string, over: Partial<SubscriptionStatus> = {}): SubscriptionStatus => ({
  id, name: id.toUpperCase(), url: `http://x/${id}`, enabled: true, paused: false,
  ready_state: "CONNECTING", reason: "starting", since: 1000, events: 0, unread: 0, ...over,
});
const live = (sub: string, row: number | null, over: Partial<LiveEvent> = {}): LiveEvent => ({
  subscription: sub, row, type: "message", data: `d${row}`, last_event_id: String(row),
  action: "notified", received_at: 1_000 + (row ?? 0), unread: 0, ...over,
});
const stored = (sub: string, row: number): StoredEvent => ({
  row, subscription: sub, type: "message", data: `d${row}`, id: String(row), last_event_id: String(row),
  received_at: 1_000 + row, action: "history", kind: "event",
});
const batch = (over: Partial<UpdatePayload>): UpdatePayload => ({ statuses: [], events: [], dropped: 0, config: null, ...over });

describe("applyUpdate", () => {
  it("keeps the latest status and builds a timeline of changes", () => {
    let s = applyUpdate(emptyStore(), batch({ statuses: [status("a")] }));
    s = applyUpdate(s, batch({ statuses: [status("a", { ready_state: "OPEN", reason: "connected", since: 2000 })] }));
    s = applyUpdate(s, batch({ statuses: [status("a", { ready_state: "OPEN", reason: "connected", since: 2000, events: 5 })] }));
    s = applyUpdate(s, batch({ statuses: [status("a", { reason: "server closed", since: 3000, status: 503 })] }));
    const a = s.subs.get("a")!;
    expect(a.status?.events).toBe(0);
    expect(a.timeline.map((t) => t.state)).toEqual(["CONNECTING", "OPEN", "CONNECTING"]);
    expect(a.timeline[0]).toEqual({ at: 3000, state: "CONNECTING", reason: "server closed", status: 503 });
  });

  it("puts events newest first per subscription and counts dropped", () => {
    let s = applyUpdate(emptyStore(), batch({ statuses: [status("a"), status("b")] }));
    s = applyUpdate(s, batch({ events: [live("a", 1), live("b", 2), live("a", 3), live("zz", 9)], dropped: 7 }));
    expect(s.subs.has("zz")).toBe(false);
    s = applyUpdate(s, batch({ events: [live("a", 4), live("a", 5)] }));
    expect(s.subs.get("a")!.events.map((e) => e.row)).toEqual([5, 4, 3, 1]);
    expect(s.subs.get("b")!.events.map((e) => e.row)).toEqual([2]);
    expect(s.dropped).toBe(7);
  });

  it("caps the events kept in memory", () => {
    const events = Array.from({ length: 30 }, (_, i) => live("a", i + 1));
    const s = applyUpdate(applyUpdate(emptyStore(), batch({ statuses: [status("a")] })), batch({ events }), 10);
    const rows = s.subs.get("a")!.events.map((e) => e.row);
    expect(rows).toHaveLength(10);
    expect(rows[0]).toBe(30);
    expect(rows[9]).toBe(21);
  });

  it("keeps unrecorded events with their own keys", () => {
    const s = applyUpdate(applyUpdate(emptyStore(), batch({ statuses: [status("a")] })), batch({ events: [live("a", null), live("a", null)] }));
    const keys = s.subs.get("a")!.events.map((e) => e.key);
    expect(new Set(keys).size).toBe(2);
  });

  it("remembers a config error until a good config arrives", () => {
    let s = applyUpdate(emptyStore(), batch({ config: { kind: "config", error: "bad rule" } }));
    expect(s.configError).toBe("bad rule");
    s = applyUpdate(s, batch({}));
    expect(s.configError).toBe("bad rule");
    s = applyUpdate(s, batch({ config: { kind: "config", applied: { started: [], restarted: [], stopped: [], unchanged: [], failed: {} } } }));
    expect(s.configError).toBeNull();
  });
});

describe("mergeEvents", () => {
  it("appends an older page and dedupes", () => {
    const cur = [stored("a", 10), stored("a", 9)].map(fromStored);
    const page = [stored("a", 9), stored("a", 8), stored("a", 7)].map(fromStored);
    expect(mergeEvents(cur, page).map((e) => e.row)).toEqual([10, 9, 8, 7]);
  });
  it("fills a gap in the middle", () => {
    const cur = [stored("a", 10), stored("a", 5)].map(fromStored);
    const page = [stored("a", 7), stored("a", 6), stored("a", 11)].map(fromStored);
    expect(mergeEvents(cur, page).map((e) => e.row)).toEqual([11, 10, 7, 6, 5]);
  });
  it("returns the same array when nothing is new", () => {
    const cur = [stored("a", 10)].map(fromStored);
    expect(mergeEvents(cur, [stored("a", 10)].map(fromStored))).toBe(cur);
  });
});

describe("history and list", () => {
  it("marks history done when a page comes back short", () => {
    let s = applyList(emptyStore(), [{ spec: { id: "a", url: "u" }, status: null }]);
    s = applyHistory(s, "a", [stored("a", 3), stored("a", 2)], 500);
    expect(s.subs.get("a")!.historyDone).toBe(true);
    expect(s.subs.get("a")!.events.map((e) => e.row)).toEqual([3, 2]);
  });
  it("seeds from a global page only for known subscriptions", () => {
    let s = applyList(emptyStore(), [{ spec: { id: "a", url: "u" }, status: null }]);
    s = applyHistoryAll(s, [stored("a", 3), stored("zz", 2), stored("a", 1)]);
    expect(s.subs.get("a")!.events.map((e) => e.row)).toEqual([3, 1]);
    expect(s.subs.get("a")!.historyDone).toBe(false);
    expect(s.subs.has("zz")).toBe(false);
  });
  it("drops removed ids and keeps events of the others", () => {
    let s = applyUpdate(emptyStore(), batch({ statuses: [status("a")] }));
    s = applyUpdate(s, batch({ events: [live("a", 1)] }));
    s = applyList(s, [{ spec: { id: "a", url: "u" }, status: status("a") }, { spec: { id: "b", url: "v" }, status: null }]);
    s = applyList(s, [{ spec: { id: "a", url: "u" }, status: status("a") }]);
    expect([...s.subs.keys()]).toEqual(["a"]);
    expect(s.subs.get("a")!.events).toHaveLength(1);
    expect(s.subs.get("a")!.timeline).toHaveLength(1);
  });
});

describe("one truth with history", () => {
  it("drops rows retention removed and is done when it holds every row history has", () => {
    let s = applyUpdate(emptyStore(), batch({ statuses: [status("a")] }));
    s = applyUpdate(s, batch({ events: Array.from({ length: 20 }, (_, i) => live("a", i + 1)) }));
    s = applyStats(s, "a", { count: 10, last_received_at: 20, retired: 10, oldest_row: 11, unmerged: 0 });
    const a = s.subs.get("a")!;
    expect(a.events.map((e) => e.row)).toEqual([20, 19, 18, 17, 16, 15, 14, 13, 12, 11]);
    expect(a.historyDone).toBe(true);
    expect(a.stats?.retired).toBe(10);
    // Nothing paged in reaches the oldest row: more to page.
    s = applyUpdate(emptyStore(), batch({ statuses: [status("b")] }));
    s = applyUpdate(s, batch({ events: [live("b", 30)] }));
    s = applyStats(s, "b", { count: 5, last_received_at: 30, retired: 0, oldest_row: 26, unmerged: 0 });
    expect(s.subs.get("b")!.historyDone).toBe(false);
  });
});

describe("views of a subscription", () => {
  it("shows paused apart from the state, and the daemon's last event time", () => {
    let s = applyUpdate(emptyStore(), batch({ statuses: [status("a", { last_event_at: 1234 })] }));
    // Events paged in or not, the time is the daemon's.
    s = applyUpdate(s, batch({ events: [live("a", 1, { received_at: 99 })] }));
    s = applyUpdate(s, batch({ statuses: [status("a", { paused: true, ready_state: "CLOSED", last_event_at: 1234 })] }));
    const r = rowView(s.subs.get("a")!);
    expect(r.state).toBe("PAUSED");
    expect(r.readyState).toBe("CLOSED");
    expect(r.lastEventAt).toBe(1234);
  });
  it("counts in words with the right number", () => {
    expect(plural(1, "event")).toBe("1 event");
    expect(plural(0, "event")).toBe("0 events");
    expect(plural(3006, "match", "matches")).toBe("3,006 matches");
  });
  it("says a failure in plain words and keeps the technical reason", () => {
    const refused = "network error: tcp connect error: Connection refused (os error 111)";
    let s = applyUpdate(emptyStore(), batch({
      statuses: [status("a", { reason: refused, hint: "Connection refused: is the server running on 127.0.0.1:1?" })],
    }));
    let r = rowView(s.subs.get("a")!);
    expect(r.says).toBe("Connection refused: is the server running on 127.0.0.1:1?");
    expect(r.reason).toBe(refused);
    s = applyUpdate(s, batch({ statuses: [status("a", { ready_state: "OPEN", reason: "HTTP 200 OK" })] }));
    r = rowView(s.subs.get("a")!);
    expect([r.says, r.reason]).toEqual(["HTTP 200 OK", "HTTP 200 OK"]);
  });
  it("shows a raised silent-feed alarm in words, and nothing without one", () => {
    const now = new Date(2025, 5, 1, 12).getTime();
    const since = new Date(2025, 5, 1, 2, 10).getTime();
    let s = applyUpdate(emptyStore(), batch({
      statuses: [status("a", { ready_state: "OPEN", silent: { kind: "silent", since } })],
    }));
    expect(rowView(s.subs.get("a")!, now).silent).toBe(`silent since ${formatTime(since, now)}`);
    s = applyUpdate(s, batch({ statuses: [status("a", { silent: { kind: "offline", since } })] }));
    expect(rowView(s.subs.get("a")!, now).silent).toMatch(/^no connection, no events since /);
    s = applyUpdate(s, batch({ statuses: [status("a", { ready_state: "OPEN" })] }));
    expect(rowView(s.subs.get("a")!, now).silent).toBeNull();
  });
  it("summarises the states", () => {
    const s = applyUpdate(emptyStore(), batch({
      statuses: [status("a", { ready_state: "OPEN" }), status("b"), status("c", { paused: true })],
    }));
    expect(summary(s)).toBe("3 subscriptions, 1 open, 1 connecting, 1 paused");
  });
  it("caps the timeline", () => {
    let t = pushTimeline([], status("a"), 3);
    for (let i = 0; i < 10; i++) t = pushTimeline(t, status("a", { reason: `r${i}` }), 3);
    expect(t.map((e) => e.reason)).toEqual(["r9", "r8", "r7"]);
  });
});

describe("a store of many subscriptions", () => {
  const view = (id: string, over: Partial<SubscriptionStatus> = {}) => ({ spec: { id, url: `http://x/${id}` }, status: status(id, over) });

  it("patches the list with what changed: new ones last, removed ones gone, events kept", () => {
    let s = applyChanges(emptyStore(), { version: 1, full: true, views: [view("a"), view("b"), view("c")], removed: [] });
    s = applyUpdate(s, batch({ events: [live("b", 1)] }));
    const shape = s.shape;
    s = applyChanges(s, {
      version: 2,
      full: false,
      views: [{ spec: { id: "b", url: "http://x/b", name: "Bee" }, status: null }, view("d")],
      removed: ["a"],
    });
    expect([...s.subs.keys()]).toEqual(["b", "c", "d"]);
    expect(s.subs.get("b")!.spec?.name).toBe("Bee");
    expect(s.subs.get("b")!.status?.id).toBe("b");
    expect(s.subs.get("b")!.events).toHaveLength(1);
    expect(s.listVersion).toBe(2);
    expect(s.shape).toBeGreaterThan(shape);
    // A whole list replaces it.
    s = applyChanges(s, { version: 3, full: true, views: [view("c")], removed: [] });
    expect([...s.subs.keys()]).toEqual(["c"]);
  });

  it("changes the map in place: a batch costs what it carries", () => {
    const views = Array.from({ length: 10_000 }, (_, i) => view(`s${i}`));
    const s = applyList(emptyStore(), views);
    const next = applyUpdate(s, batch({ statuses: [status("s5", { ready_state: "OPEN" })] }));
    expect(next.subs).toBe(s.subs);
    expect(next.shape).toBe(s.shape);
    expect(summary(next)).toBe("10,000 subscriptions, 1 open, 9,999 connecting");
  });

  it("keeps the header's counts equal to a count of every subscription", () => {
    let s = applyList(emptyStore(), ["a", "b", "c", "d"].map((id) => view(id)));
    s = applyUpdate(s, batch({ statuses: [status("a", { ready_state: "OPEN" }), status("e", { paused: true })] }));
    s = applyUpdate(s, batch({ statuses: [status("b", { ready_state: "CLOSED" })], removed: ["c"] }));
    s = removeSub(s, "d");
    s = applyChanges(s, { version: 9, full: false, views: [view("f", { ready_state: "OPEN" })], removed: ["a"] });
    const recount = { open: 0, connecting: 0, closed: 0, paused: 0 };
    for (const sub of s.subs.values()) recount[category(sub)]++;
    expect(s.counts).toEqual(recount);
    expect(summary(s)).toBe("3 subscriptions, 1 open, 1 closed, 1 paused");
  });

  it("filters by id, name or URL, ignoring case", () => {
    const s = applyList(emptyStore(), [
      { spec: { id: "ci", url: "https://ci.example/events", name: "Builds" }, status: null },
      { spec: { id: "news", url: "https://news.example/sse" }, status: null },
      { spec: { id: "alerts", url: "https://ntfy.sh/alerts/sse" }, status: null },
    ]);
    expect(matchingIds(s, "")).toEqual(["ci", "news", "alerts"]);
    expect(matchingIds(s, "BUILD")).toEqual(["ci"]);
    expect(matchingIds(s, "example")).toEqual(["ci", "news"]);
    expect(matchingIds(s, " alerts ")).toEqual(["alerts"]);
    expect(matchingIds(s, "nothing")).toEqual([]);
  });
});
