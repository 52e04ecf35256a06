import { describe, expect, it, vi } from "vitest";
import { gapText, parseOutage } from "./gap";
import { type SubState, type UiEvent } from "./store";
import { detailView } from "./views/detail";

describe("gap rows", () => {
  const start = new Date(2026, 11, 6, 14, 2, 30).getTime();
  const end = new Date(2026, 11, 6, 14, 9, 1).getTime();
  const data = JSON.stringify({ start, end, cause: "server closed the stream", class: "unknown", why: "reconnected without a resume point" });

  it("read as the CLI prints them", () => {
    expect(gapText(data)).toBe(
      "possible gap 14:02–14:09 (reconnected without a resume point); outage began with: server closed the stream",
    );
  });

  it("are only rows whose data is an outage", () => {
    expect(gapText("disk full")).toBeNull();
    expect(parseOutage(JSON.stringify({ start: 1 }))).toBeNull();
  });

  it("show in the message list as their own row", () => {
    const now = Date.now();
    const row = (n: number, action: string, d: string): UiEvent => ({
      key: `r${n}`, row: n, subscription: "a", type: action === "gap" ? "ssenotify.gap" : "message",
      data: d, id: String(n), received_at: now, action, rule: null, shown: null, button: null,
    });
    const gapData = JSON.stringify({ start: now - 60_000, end: now, cause: "paused by user", class: "gap", why: "ids jumped from 3 to 9: 5 missing" });
    const sub: SubState = {
      id: "a", spec: null, status: null, timeline: [], historyDone: true, stats: null, whole: 0,
      events: [row(3, "notified", "after"), row(2, "gap", gapData), row(1, "notified", "before")],
    };
    const noop = vi.fn();
    const view = detailView(sub, { togglePause: noop, mute: noop, retry: noop, markRead: noop, edit: noop, remove: noop, loadOlder: noop });
    document.body.replaceChildren(view.root);
    const rows = [...view.root.querySelectorAll<HTMLElement>('[data-testid="event-row"]')];
    expect(rows.map((r) => r.classList.contains("gap-row"))).toEqual([false, true, false]);
    expect(rows[1]!.querySelector('[data-testid="event-data"]')?.textContent).toMatch(
      /^possible gap \d\d:\d\d–\d\d:\d\d \(ids jumped from 3 to 9: 5 missing\); outage began with: paused by user$/,
    );
  });
});
