// The subscription detail: header with actions, the virtualized message list (newest first),
// the inspector of the selected message and the readyState timeline. Built once per opened
// subscription; `update` patches it on every batch without rebuilding the scroller.
import { el, replace } from "../dom";
import { formatTime, rowView, MAX_EVENTS, type SubState, type UiEvent } from "../store";
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
  let events: UiEvent[] = [];
  let selected: string | null = null;
  let pending = false;
  let confirmRemove = false;

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
  const listNote = el("p", { class: "muted list-note", "aria-live": "polite" });
  const inspector = el("div", { class: "inspector", "data-testid": "event-inspector", "aria-live": "polite" });
  const timeline = el("ol", { class: "timeline", "data-testid": "state-timeline" });

  const root = el("section", { class: "detail", "data-testid": "subscription-detail", "data-id": id }, [
    head,
    el("div", { class: "detail-body" }, [
      el("div", { class: "messages" }, [el("h3", {}, ["Messages"]), scroller, listNote]),
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
    const w = visibleWindow(scroller.scrollTop, viewport(), ROW_HEIGHT, events.length);
    spacer.style.height = `${w.height}px`;
    win.style.transform = `translateY(${w.offset}px)`;
    const rows: HTMLElement[] = [];
    for (let i = w.start; i < w.end; i++) rows.push(eventRow(events[i]!));
    replace(win, rows);
    if (nearEnd(w, events.length) && !sub.historyDone && events.length < MAX_EVENTS && !pending) {
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

  function select(key: string | null, scroll: boolean) {
    selected = key;
    const index = key ? events.findIndex((e) => e.key === key) : -1;
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
        ...dt("Received", new Date(e.received_at).toLocaleString()),
        ...dt("Router", e.action, "inspector-action"),
        ...dt("History row", e.row === null ? "not recorded" : String(e.row)),
      ]),
      el("pre", { class: "ev-full", "data-testid": "inspector-data", tabindex: 0 }, [e.data]),
    ]);
  }

  repaintOnScroll(scroller, paint);
  scroller.addEventListener("keydown", (ev) => {
    const index = selected ? events.findIndex((e) => e.key === selected) : -1;
    const next = navigate(ev.key, index, events.length, Math.floor(viewport() / ROW_HEIGHT));
    if (next === null) return;
    ev.preventDefault();
    select(events[next]?.key ?? null, true);
  });

  function renderHead() {
    keepFocus(head, () => paintHead());
  }

  function paintHead() {
    const r = rowView(sub, Date.now());
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
        sub.status?.retry_in_ms ? ` · retry in ${Math.round(sub.status.retry_in_ms / 1000)}s` : "",
        r.eventsTotal !== null ? ` · ${r.eventsTotal} events since start` : "",
      ]),
      // The technical text, one click away, when the words above are not it.
      r.says !== r.reason
        ? el("details", { class: "reason-details" }, [
            el("summary", {}, ["Details"]),
            el("code", { "data-testid": "detail-reason" }, [r.reason]),
          ])
        : null,
      muted(sub) ? el("p", { class: "muted" }, [`Muted until ${new Date(sub.spec!.mute_until!).toLocaleString()}: events are recorded, no popups.`]) : null,
      r.error ? el("p", { class: "error-text", role: "alert" }, [r.error]) : null,
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
        button("Edit", () => actions.edit(id), { "data-testid": "detail-edit" }),
        button(confirmRemove ? "Really remove?" : "Remove", () => {
          if (confirmRemove) actions.remove(id);
          else {
            confirmRemove = true;
            renderHead();
            setTimeout(() => {
              confirmRemove = false;
              if (root.isConnected) renderHead();
            }, 4000);
          }
        }, { class: confirmRemove ? "danger" : "", "data-testid": "detail-remove" }),
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
      const added = addedOnTop(prevEvents, events, (e) => e.key);
      if (prevEvents.length) {
        scroller.scrollTop = anchoredScrollTop(scroller.scrollTop, added, ROW_HEIGHT);
      }
      paint();
      if (selected && !events.some((e) => e.key === selected)) select(null, false);
    }
    listNote.textContent =
      events.length === 0
        ? "No messages yet."
        : `${events.length} message${events.length === 1 ? "" : "s"}${
            events.length >= MAX_EVENTS ? " in memory; older ones stay in history" : ""
          }${sub.historyDone ? "" : " (scroll down for older)"}`;
    renderHead();
    renderTimeline();
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
