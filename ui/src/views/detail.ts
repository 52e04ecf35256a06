// The subscription detail: header with actions, the virtualized message list (newest first),
// the inspector of the selected message and the readyState timeline. Built once per opened
// subscription; `update` patches it on every batch without rebuilding the scroller.
import { el, replace } from "../dom";
import { formatFull, formatTime, plural, rowView, MAX_EVENTS, type SubState, type UiEvent } from "../store";
import { addedOnTop, anchoredScrollTop, navigate, nearEnd, scrollToRow, visibleWindow, repaintOnScroll } from "../vlist";
import { button, keepFocus } from "./common";
import { gapText } from "../gap";

/** Must match `.event-row` height in style.css. */
export const ROW_HEIGHT = 28;
/** Rows shown before layout gives the scroller a height (and in tests). */
const FALLBACK_VIEWPORT = 320;
/** Characters of data shown in a row; the inspector shows all of it. */
const ROW_DATA_CHARS = 300;

export interface DetailActions {
  togglePause(id: string, paused: boolean): void;
  mute(id: string, minutes: number): void;
  retry(id: string): void;
  markRead(id: string): void;
  edit(id: string): void;
  remove(id: string): void;
  loadOlder(id: string): void;
}

export interface DetailView {
  root: HTMLElement;
  update(sub: SubState): void;
}

export function detailView(initial: SubState, actions: DetailActions): DetailView {
  const id = initial.id;
  let sub = initial;
  /** Everything held, newest first. */
  let events: UiEvent[] = [];
  /** What the search lets through (`events` itself when there is no search). */
  let shown: UiEvent[] = [];
  let query = "";
  let urgency = "";
  let selected: string | null = null;
  let pending = false;

  const head = el("div", { class: "detail-head" });
  const scroller = el("div", {
    class: "vlist",
    tabindex: 0,
    role: "listbox",
    "aria-label": "Messages, newest first",
    "data-testid": "event-list",
  });
  const spacer = el("div", { class: "vlist-spacer" });
  const win = el("div", { class: "vlist-window" });
  spacer.append(win);
  scroller.append(spacer);
  const listNote = el("p", { class: "muted list-note", "aria-live": "polite", "data-testid": "list-note" });
  const search = el("input", {
    type: "search",
    class: "message-search",
    placeholder: "Search messages (text, type, what the router did)",
    "aria-label": "Search messages",
    "data-testid": "message-search",
  }) as HTMLInputElement;
  // Which notifications to show by their urgency (events that made none have none).
  const urgencyFilter = el("select", { class: "urgency-filter", "aria-label": "Filter by urgency", "data-testid": "urgency-filter" }, [
    el("option", { value: "" }, ["All urgencies"]),
    el("option", { value: "critical" }, ["Critical"]),
    el("option", { value: "normal" }, ["Normal"]),
    el("option", { value: "low" }, ["Low"]),
  ]) as HTMLSelectElement;
  const refilter = () => {
    query = search.value;
    urgency = urgencyFilter.value;
    filter();
    scroller.scrollTop = 0;
    paint();
    renderNote();
  };
  search.addEventListener("input", refilter);
  urgencyFilter.addEventListener("change", refilter);
  const inspector = el("div", { class: "inspector", "data-testid": "event-inspector", "aria-live": "polite" });
  const timeline = el("ol", { class: "timeline", "data-testid": "state-timeline" });

  const root = el("section", { class: "detail", "data-testid": "subscription-detail", "data-id": id }, [
    head,
    el("div", { class: "detail-body" }, [
      el("div", { class: "messages" }, [el("h3", {}, ["Messages"]), el("div", { class: "message-filters" }, [search, urgencyFilter]), scroller, listNote]),
      el("div", { class: "side" }, [
        el("h3", {}, ["Inspector"]),
        inspector,
        el("h3", {}, ["Connection timeline"]),
        timeline,
      ]),
    ]),
  ]);

  const viewport = () => scroller.clientHeight || FALLBACK_VIEWPORT;

  function paint() {
    const w = visibleWindow(scroller.scrollTop, viewport(), ROW_HEIGHT, shown.length);
    spacer.style.height = `${w.height}px`;
    win.style.transform = `translateY(${w.offset}px)`;
    const rows: HTMLElement[] = [];
    for (let i = w.start; i < w.end; i++) rows.push(eventRow(shown[i]!));
    replace(win, rows);
    // A search looks through everything history holds, not only what was paged in.
    if ((query || urgency || nearEnd(w, shown.length)) && !sub.historyDone && events.length < MAX_EVENTS && !pending) {
      pending = true;
      actions.loadOlder(id);
    }
  }

  function eventRow(e: UiEvent): HTMLElement {
    const isSel = e.key === selected;
    // A possible gap is not an event: its own row, its outage in words.
    const gap = e.action === "gap" ? gapText(e.data) : null;
    return el(
      "div",
      {
        class: `event-row${gap ? " gap-row" : ""}${isSel ? " selected" : ""}`,
        role: "option",
        id: `ev-${id}-${e.key}`,
        "aria-selected": isSel ? "true" : "false",
        "data-testid": "event-row",
        "data-key": e.key,
        on: { click: () => select(e.key, false) },
      },
      [
        el("span", { class: "ev-time" }, [formatTime(e.received_at)]),
        el("span", { class: "ev-type", "data-testid": "event-type" }, [e.type]),
        el("span", { class: "ev-data", "data-testid": "event-data" }, [
          gap ?? (e.data.length > ROW_DATA_CHARS ? `${e.data.slice(0, ROW_DATA_CHARS)}…` : e.data),
        ]),
        el("span", { class: `ev-action action-${e.action}` }, [e.action]),
      ],
    );
  }

  /** `shown` for the current search: text, type or the router's action, any case. */
  function filter() {
    const needle = query.trim().toLowerCase();
    shown = needle || urgency
      ? events.filter(
          (e) =>
            (!urgency || e.shown?.urgency === urgency) &&
            (!needle || e.data.toLowerCase().includes(needle) || e.type.toLowerCase().includes(needle) || e.action.includes(needle)),
        )
      : events;
  }

  function select(key: string | null, scroll: boolean) {
    selected = key;
    const index = key ? shown.findIndex((e) => e.key === key) : -1;
    if (scroll && index >= 0) {
      scroller.scrollTop = scrollToRow(index, scroller.scrollTop, viewport(), ROW_HEIGHT);
    }
    if (index >= 0) scroller.setAttribute("aria-activedescendant", `ev-${id}-${key}`);
    else scroller.removeAttribute("aria-activedescendant");
    paint();
    renderInspector();
  }

  function renderInspector() {
    const e = selected ? events.find((x) => x.key === selected) : undefined;
    if (!e) {
      replace(inspector, [el("p", { class: "muted" }, ["Select a message to see all of it."])]);
      return;
    }
    const dt = (k: string, v: string, testid?: string) => [
      el("dt", {}, [k]),
      el("dd", testid ? { "data-testid": testid } : {}, [v]),
    ];
    replace(inspector, [
      el("dl", {}, [
        ...dt("Type", e.type),
        ...dt("Id", e.id || "—"),
        ...dt("Received", formatFull(e.received_at)),
        ...dt("Router", e.action, "inspector-action"),
        ...dt("Rule", ruleText(e.rule), "inspector-rule"),
        ...(e.shown
          ? dt("Notification", `${e.shown.title} — ${fromMarkup(e.shown.body)} (${e.shown.urgency})`, "inspector-notification")
          : []),
        ...(e.button ? dt("Button", e.button, "inspector-button") : []),
        ...dt("History row", e.row === null ? "not recorded" : String(e.row)),
      ]),
      el("div", { class: "actions" }, [
        button("Copy", () => void navigator.clipboard?.writeText(e.data).catch(() => {}), { "data-testid": "inspector-copy" }),
      ]),
      el("pre", { class: "ev-full", "data-testid": "inspector-data", tabindex: 0 }, [pretty(e.data)]),
    ]);
  }

  /** The rule that matched, as the form shows it: its number and what it matches. */
  function ruleText(rule: number | null): string {
    if (rule === null) return "no rule (the defaults)";
    const spec = sub.spec?.rules?.[rule];
    const what = spec ? ` (event ${spec.event ?? "*"}${spec.action ? `, ${spec.action}` : ""})` : "";
    return `rule ${rule + 1}${what}`;
  }

  repaintOnScroll(scroller, paint);
  scroller.addEventListener("keydown", (ev) => {
    const index = selected ? shown.findIndex((e) => e.key === selected) : -1;
    const next = navigate(ev.key, index, shown.length, Math.floor(viewport() / ROW_HEIGHT));
    if (next === null) return;
    ev.preventDefault();
    select(shown[next]?.key ?? null, true);
  });

  // CONNECTING after a failure: a countdown to the next try, ticking each second.
  const retryIn = el("span", { "data-testid": "detail-retry-in" });
  function tickRetry() {
    const s = sub.status;
    const at = s?.ready_state === "CONNECTING" && s.retry_in_ms != null && !s.paused ? s.since + s.retry_in_ms : null;
    if (at === null) {
      retryIn.textContent = "";
      return;
    }
    const left = Math.ceil((at - Date.now()) / 1000);
    retryIn.textContent = left > 0 ? ` · next try in ${left} s` : " · trying now";
  }
  const ticker = setInterval(() => (root.isConnected ? tickRetry() : clearInterval(ticker)), 1000);

  function renderHead() {
    keepFocus(head, () => paintHead());
  }

  function paintHead() {
    const r = rowView(sub);
    tickRetry();
    replace(head, [
      el("div", { class: "detail-title" }, [
        el("h2", {}, [r.name]),
        el("span", { class: `badge badge-${r.paused ? "paused" : r.readyState.toLowerCase()}`, "data-testid": "detail-ready-state" }, [
          r.readyState === "UNKNOWN" ? "CONNECTING" : r.readyState,
        ]),
        r.paused ? el("span", { class: "badge badge-paused" }, ["paused"]) : null,
      ]),
      el("p", { class: "sub-url" }, [r.url]),
      el("p", { class: "muted" }, [
        el("span", { "data-testid": "detail-says" }, [r.says]),
        r.since ? ` · since ${formatTime(r.since)}` : "",
        retryIn,
        sub.stats ? el("span", { "data-testid": "detail-count" }, [` · ${plural(sub.stats.count, "event")} in history`]) : "",
      ]),
      // The technical text, one click away, when the words above are not it.
      r.says !== r.reason
        ? el("details", { class: "reason-details" }, [
            el("summary", {}, ["Details"]),
            el("code", { "data-testid": "detail-reason" }, [r.reason]),
          ])
        : null,
      muted(sub) ? el("p", { class: "muted" }, [`Muted until ${formatFull(Date.parse(sub.spec!.mute_until!))}: events are recorded, no popups.`]) : null,
      r.error ? el("p", { class: "error-text", role: "alert" }, [r.error]) : null,
      r.silent ? el("p", { class: "error-text", "data-testid": "detail-silent" }, [`Silent-feed alarm: ${r.silent}`]) : null,
      el("div", { class: "actions" }, [
        button(r.paused ? "Resume" : "Pause", () => actions.togglePause(id, !r.paused), {
          "data-testid": "detail-pause",
        }),
        // CLOSED for good, or waiting for the next try: try now.
        !r.paused && (r.readyState === "CLOSED" || r.readyState === "CONNECTING")
          ? button("Retry now", () => actions.retry(id), { "data-testid": "detail-retry" })
          : null,
        muted(sub)
          ? button("Unmute", () => actions.mute(id, 0), { "data-testid": "detail-mute" })
          : button("Mute 1 h", () => actions.mute(id, 60), { "data-testid": "detail-mute" }),
        r.unread
          ? button(`Mark ${plural(r.unread, "event")} read`, () => actions.markRead(id), { "data-testid": "detail-mark-read" })
          : null,
        button("Edit", () => actions.edit(id), { "data-testid": "detail-edit" }),
        button("Remove", () => actions.remove(id), { class: "danger", "data-testid": "detail-remove" }),
      ]),
    ]);
  }

  function renderTimeline() {
    replace(
      timeline,
      sub.timeline.length
        ? sub.timeline.map((t) =>
            el("li", {}, [
              el("span", { class: `badge badge-${t.state.toLowerCase()}` }, [t.state]),
              el("span", { class: "tl-time" }, [formatTime(t.at)]),
              el("span", { class: "tl-reason" }, [t.status ? `${t.reason} (HTTP ${t.status})` : t.reason]),
            ]),
          )
        : [el("li", { class: "muted" }, ["No state changes seen yet."])],
    );
  }

  function update(next: SubState) {
    const prevEvents = events;
    sub = next;
    events = next.events;
    if (events !== prevEvents) {
      pending = false;
      const before = shown;
      filter();
      const added = addedOnTop(before, shown, (e) => e.key);
      if (before.length) {
        scroller.scrollTop = anchoredScrollTop(scroller.scrollTop, added, ROW_HEIGHT);
      }
      paint();
      if (selected && !shown.some((e) => e.key === selected)) select(null, false);
    }
    renderNote();
    renderHead();
    renderTimeline();
  }

  /** Below the list: how much of history it holds, and what retention took before it. */
  function renderNote() {
    const parts: string[] = [];
    const total = sub.stats?.count;
    if (query || urgency) parts.push(`${plural(shown.length, "match", "matches")} in ${plural(events.length, "message")}`);
    else if (events.length === 0) parts.push("No messages yet.");
    else if (sub.historyDone || total === events.length) parts.push(plural(events.length, "message"));
    else if (total !== undefined && total > events.length) parts.push(`${plural(events.length, "message")} of ${total.toLocaleString("en-US")} in history`);
    else parts.push(plural(events.length, "message"));
    if (!sub.historyDone && events.length >= MAX_EVENTS) parts.push("older ones stay in history");
    else if (!sub.historyDone && events.length) parts.push("scroll down for older");
    const retired = sub.stats?.retired ?? 0;
    const atEnd = sub.historyDone || (total !== undefined && total <= events.length);
    replace(listNote, [
      parts.join(" · "),
      retired > 0 && atEnd && !query && !urgency
        ? el("span", { class: "retention-note", "data-testid": "retention-note" }, [
            ` · ${plural(retired, "older event")} removed by retention`,
          ])
        : null,
    ]);
  }

  update(initial);
  renderInspector();
  if (events.length === 0) paint();
  return { root, update };
}

/** Whether the subscription is muted right now (`mute_until` in the future). */
export function muted(sub: SubState, now = Date.now()): boolean {
  const until = sub.spec?.mute_until;
  if (!until) return false;
  const t = Date.parse(until);
  return Number.isFinite(t) && t > now;
}

/** JSON data indented for reading (text stays text); anything else as it came. */
export function pretty(data: string): string {
  const t = data.trimStart();
  if (!t.startsWith("{") && !t.startsWith("[")) return data;
  try {
    return JSON.stringify(JSON.parse(data), null, 2);
  } catch {
    return data;
  }
}

/** A notification body as sent (escaped for the server's markup) back to plain text. */
export function fromMarkup(body: string): string {
  return body
    .replace(/<[^>]*>/g, "")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&#39;|&apos;/g, "'")
    .replace(/&amp;/g, "&");
}
