// Renders the Model into the page. Pure DOM construction through el(): untrusted text
// (names, URLs, reasons, event data) only ever lands in text nodes.
import type { SubscriptionView } from "./api";
import { el, replace, type Child } from "./dom";
import type { Model } from "./model";

/** What the user can do from the page. */
export interface Actions {
  tryDemo(): void;
}

/** Renders the whole page into `root`. Cheap enough to call on every (batched) update. */
export function render(root: Element, model: Model, actions: Actions): void {
  replace(root, [header(model), notice(model), main(model, actions)]);
}

function header(model: Model): HTMLElement {
  return el("header", { class: "app-header" }, [
    el("h1", {}, ["ssenotify"]),
    el("p", { class: "status", id: "status" }, [
      model.info ? model.info.status : "connecting to the app…",
    ]),
    model.info && el("span", { class: "version" }, [`v${model.info.version}`]),
  ]);
}

function notice(model: Model): Child {
  if (!model.notice) return null;
  return el(
    "p",
    { class: `notice notice-${model.notice.kind}`, id: "notice", role: "status" },
    [model.notice.text],
  );
}

function main(model: Model, actions: Actions): HTMLElement {
  const subs = [...model.subscriptions.values()];
  return el("main", {}, [
    subs.length === 0 ? emptyState(actions) : null,
    el(
      "ul",
      { class: "subscriptions", id: "subscriptions", "aria-label": "Subscriptions" },
      subs.map(row),
    ),
  ]);
}

function emptyState(actions: Actions): HTMLElement {
  return el("section", { class: "empty", id: "empty-state" }, [
    el("h2", {}, ["No subscriptions yet"]),
    el("p", {}, [
      "Add the URL of a Server-Sent Events stream and ssenotify turns its events into ",
      "desktop notifications, even while this window is closed.",
    ]),
    el(
      "button",
      { type: "button", id: "try-demo", class: "primary", on: { click: () => actions.tryDemo() } },
      ["Try the demo feed"],
    ),
  ]);
}

/** One subscription in the list. */
export function row(sub: SubscriptionView): HTMLElement {
  const state = sub.paused ? "PAUSED" : sub.readyState;
  return el("li", { class: "subscription", "data-id": sub.id }, [
    el("div", { class: "sub-main" }, [
      el("span", { class: "sub-name" }, [sub.name]),
      el("span", { class: "sub-url" }, [sub.url]),
    ]),
    el("span", { class: `badge badge-${state.toLowerCase()}` }, [state]),
    sub.reason ? el("span", { class: "sub-reason" }, [sub.reason]) : null,
    sub.eventsToday !== undefined
      ? el("span", { class: "sub-count" }, [`${sub.eventsToday} today`])
      : null,
  ]);
}
