// The sidebar: a filter box over a virtual list of subscriptions. Only the rows in view (and
// a few around them) are in the DOM, so 10,000 subscriptions cost what 20 do: an update
// repaints that window, a keystroke in the filter scans strings and repaints it too, and the
// ids the list shows are worked out again only when the store's shape changed.
import { el, replace } from "../dom";
import { formatTime, matchingIds, plural, rowView, type Store } from "../store";
import { visibleWindow, repaintOnScroll } from "../vlist";
import { button, keepFocus } from "./common";

/** Must match `.subscription` height in style.css. */
export const SUB_ROW_HEIGHT = 92;
/** The list's height before layout gives it one (and in tests, which have no layout). */
const FALLBACK_VIEWPORT = 800;

export interface SubListActions {
  open(id: string): void;
  togglePause(id: string, paused: boolean): void;
  edit(id: string): void;
  remove(id: string, name: string): void;
}

export interface SubList {
  /** The sidebar's content: the filter and the scrolling list. */
  root: HTMLElement;
  /** Shows `store`, with the row of `selected` highlighted. */
  render(store: Store, selected: string | null): void;
}

export function subList(actions: SubListActions): SubList {
  let store: Store | null = null;
  let selected: string | null = null;
  /** The ids shown (filtered), in list order, and the store shape they were taken from. */
  let ids: string[] = [];
  let shape = -1;
  let filterText = "";

  const filter = el("input", {
    type: "search",
    class: "sub-filter",
    placeholder: "Filter by name, id or URL",
    "aria-label": "Filter subscriptions",
    "data-testid": "subscription-filter",
  });
  const note = el("p", { class: "muted sub-note", "data-testid": "subscription-count", "aria-live": "polite" });
  const list = el("ul", { class: "subscriptions vlist-window", id: "subscriptions", "aria-label": "Subscriptions" });
  const spacer = el("div", { class: "vlist-spacer" }, [list]);
  const scroller = el("div", { class: "sublist", "data-testid": "subscription-list" }, [spacer]);
  const root = el("div", { class: "sidebar-body" }, [filter, note, scroller]);

  const viewport = () => scroller.clientHeight || FALLBACK_VIEWPORT;

  // A click is a press and a release on the same element. Repainting between the two (up to
  // 10 times a second during a burst) would replace that element and lose the click, so
  // while a pointer is down on the list, paints wait for its release (and for the click
  // that follows it, hence the timeout).
  let pressing = false;
  let deferred = false;
  scroller.addEventListener("pointerdown", () => {
    pressing = true;
  });
  const release = () => {
    if (!pressing) return;
    pressing = false;
    if (deferred) {
      deferred = false;
      setTimeout(paint, 0);
    }
  };
  window.addEventListener("pointerup", release);
  window.addEventListener("pointercancel", release);

  function paint() {
    if (pressing) {
      deferred = true;
      return;
    }
    if (!store) return;
    const current = store;
    const w = visibleWindow(scroller.scrollTop, viewport(), SUB_ROW_HEIGHT, ids.length, 3);
    spacer.style.height = `${w.height}px`;
    list.style.transform = `translateY(${w.offset}px)`;
    const now = Date.now();
    const rows: HTMLElement[] = [];
    for (let i = w.start; i < w.end; i++) {
      const sub = current.subs.get(ids[i]!);
      if (sub) rows.push(row(sub, now));
    }
    keepFocus(list, () => replace(list, rows));
    const total = current.subs.size;
    note.textContent = filterText.trim()
      ? ids.length
        ? `${ids.length} of ${total} match`
        : "No subscription matches the filter."
      : "";
    note.hidden = !note.textContent;
  }

  function row(sub: Parameters<typeof rowView>[0], now: number): HTMLElement {
    const r = rowView(sub, now);
    const badge = r.readyState === "UNKNOWN" ? "CONNECTING" : r.readyState;
    return el("li", {
      class: `subscription${r.id === selected ? " selected" : ""}`,
      "data-testid": "subscription-row",
      "data-id": r.id,
      // The whole row opens the detail (WebDriver clicks its middle); the action buttons
      // handle their own clicks.
      on: {
        click: (ev) => {
          const target = ev.target as Element | null;
          if (!target?.closest(".row-actions") && !target?.closest(".sub-open")) actions.open(r.id);
        },
      },
    }, [
      el("button", {
        type: "button",
        class: "sub-open",
        "data-focus": `open:${r.id}`,
        "aria-current": r.id === selected ? "true" : false,
        on: { click: () => actions.open(r.id) },
      }, [
        el("span", { class: "sub-line" }, [
          el("span", { class: "sub-name" }, [r.name]),
          r.unread
            ? el("span", { class: "unread-badge", "data-testid": "unread", title: `${plural(r.unread, "unread event")}` }, [
                r.unread.toLocaleString("en-US"),
              ])
            : null,
          // Paused is the user's choice, not a failure: no red badge for it.
          el("span", { class: `badge badge-${r.paused ? "paused" : badge.toLowerCase()}`, "data-testid": "ready-state" }, [badge]),
          r.paused ? el("span", { class: "badge badge-paused", "data-testid": "paused" }, ["paused"]) : null,
        ]),
        el("span", { class: "sub-url" }, [r.url]),
        el("span", { class: "sub-meta" }, [
          el("span", { class: "sub-reason", "data-testid": "state-reason", title: r.reason }, [r.says]),
          r.since ? el("span", { class: "sub-time" }, [` · ${formatTime(r.since, now)}`]) : null,
          // From the daemon, like every count the window shows: not from what is paged in.
          r.lastEventAt ? el("span", { class: "sub-count", "data-testid": "last-event" }, [` · last event ${formatTime(r.lastEventAt, now)}`]) : null,
          // On the same line: every row has the same height (the detail shows all of it).
          r.error ? el("span", { class: "sub-error" }, [` · ${r.error}`]) : null,
          r.silent ? el("span", { class: "sub-error", "data-testid": "silent" }, [` · ${r.silent}`]) : null,
        ]),
      ]),
      el("div", { class: "row-actions" }, [
        button(r.paused ? "Resume" : "Pause", () => actions.togglePause(r.id, !r.paused), {
          "data-focus": `pause:${r.id}`,
          "data-testid": "row-pause",
          "aria-label": `${r.paused ? "Resume" : "Pause"} ${r.name}`,
        }),
        button("Edit", () => actions.edit(r.id), { "data-focus": `edit:${r.id}`, "data-testid": "row-edit", "aria-label": `Edit ${r.name}` }),
        button("Remove", () => actions.remove(r.id, r.name), { "data-focus": `remove:${r.id}`, "data-testid": "row-remove", "aria-label": `Remove ${r.name}` }),
      ]),
    ]);
  }

  repaintOnScroll(scroller, paint);
  filter.addEventListener("input", () => {
    filterText = filter.value;
    if (store) ids = matchingIds(store, filterText);
    scroller.scrollTop = 0;
    paint();
  });

  function render(next: Store, nextSelected: string | null) {
    store = next;
    selected = nextSelected;
    if (next.shape !== shape) {
      shape = next.shape;
      ids = matchingIds(next, filterText);
    }
    paint();
  }

  return { root, render };
}
