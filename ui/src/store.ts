// The UI's live state and the functions that change it: subscription specs and statuses,
// each subscription's recent events (newest first, capped), and its readyState timeline,
// all fed from list_changes, history_page and `ssenotify://update`.
//
// With 10,000 subscriptions nothing here may cost the whole set per update: the map of
// subscriptions is changed in place (an update costs what it carries), the header's counts
// are kept up to date as subscriptions change, and `shape` tells the list when the set of
// ids (or what a filter matches) changed, so it recomputes its rows only then. Each
// SubState is replaced, never changed, so a view can tell a change by identity.
import type {
  LiveEvent,
  ReadyState,
  StoredEvent,
  SubscriptionChanges,
  SubscriptionSpec,
  SubscriptionStatus,
  SubscriptionView,
  UpdatePayload,
} from "./api";

/** Most events kept in memory per subscription; older ones stay in history. */
export const MAX_EVENTS = 10_000;
/** Most timeline entries kept per subscription. */
export const MAX_TIMELINE = 50;

/** An event as the detail list shows it (from history or live). */
export interface UiEvent {
  /** Stable key: the history row, or a client counter for unrecorded events. */
  key: string;
  row: number | null;
  subscription: string;
  type: string;
  data: string;
  /** The event's own id (history rows), else its last event id. */
  id: string;
  received_at: number;
  action: string;
}

/** One readyState change. */
export interface TimelineEntry {
  at: number;
  state: ReadyState;
  reason: string;
  status?: number;
}

/** What the UI knows about one subscription. */
export interface SubState {
  id: string;
  spec: SubscriptionSpec | null;
  status: SubscriptionStatus | null;
  /** Newest first, at most MAX_EVENTS. */
  events: UiEvent[];
  timeline: TimelineEntry[];
  /** History holds nothing older than the last event here. */
  historyDone: boolean;
}

/** How the header counts a subscription. */
export type Category = "open" | "connecting" | "closed" | "paused";

export interface Store {
  /** By id, in list order; changed in place (see the top of this file). */
  subs: Map<string, SubState>;
  /** How many subscriptions are in each category, kept as they change. */
  counts: Record<Category, number>;
  /** Bumped whenever ids come or go, or a spec changes: what a list shows may differ. */
  shape: number;
  /** The `version` of the last list_changes answer, to ask for what changed after it. */
  listVersion: number | null;
  /** Events the app left out of batches since the last refetch. */
  dropped: number;
  configError: string | null;
  /** A counter for unrecorded events' keys. */
  seq: number;
}

export function emptyStore(): Store {
  return {
    subs: new Map(),
    counts: { open: 0, connecting: 0, closed: 0, paused: 0 },
    shape: 0,
    listVersion: null,
    dropped: 0,
    configError: null,
    seq: 0,
  };
}

/** The header's category of a subscription. */
export function category(sub: SubState): Category {
  if (sub.status?.paused ?? sub.spec?.paused) return "paused";
  if (sub.status?.ready_state === "OPEN") return "open";
  if (sub.status?.ready_state === "CONNECTING") return "connecting";
  return "closed";
}

/** Puts `sub` in place of the subscription with its id (or last), keeping the counts. */
function put(store: Store, sub: SubState): void {
  const prev = store.subs.get(sub.id);
  if (prev) store.counts[category(prev)]--;
  else store.shape++;
  store.counts[category(sub)]++;
  store.subs.set(sub.id, sub);
}

/** Drops the subscription `id`, keeping the counts. */
function drop(store: Store, id: string): void {
  const prev = store.subs.get(id);
  if (!prev) return;
  store.counts[category(prev)]--;
  store.subs.delete(id);
  store.shape++;
}

function blank(id: string): SubState {
  return { id, spec: null, status: null, events: [], timeline: [], historyDone: false };
}

/** A timeline with `status` appended when its state or reason changed. */
export function pushTimeline(
  timeline: TimelineEntry[],
  status: SubscriptionStatus,
  max = MAX_TIMELINE,
): TimelineEntry[] {
  const last = timeline[0];
  if (last && last.state === status.ready_state && last.reason === status.reason) return timeline;
  const entry: TimelineEntry = { at: status.since, state: status.ready_state, reason: status.reason };
  if (status.status != null) entry.status = status.status;
  return [entry, ...timeline].slice(0, max);
}

/** The view's subscription, keeping what the UI already knew (events, timeline). */
function fromView(prev: SubState | undefined, view: SubscriptionView): SubState {
  const base = prev ?? blank(view.spec.id);
  return {
    ...base,
    spec: view.spec,
    status: view.status ?? base.status,
    timeline: view.status ? pushTimeline(base.timeline, view.status) : base.timeline,
  };
}

/** The full list: keeps events and timelines, drops removed ids. */
export function applyList(store: Store, views: SubscriptionView[]): Store {
  const next: Store = { ...store, subs: new Map(), counts: { open: 0, connecting: 0, closed: 0, paused: 0 } };
  for (const view of views) put(next, fromView(store.subs.get(view.spec.id), view));
  next.shape = store.shape + 1;
  return next;
}

/** A list_changes answer: the whole list, or a patch (changed and new views, removed ids). */
export function applyChanges(store: Store, changes: SubscriptionChanges): Store {
  if (changes.full) return { ...applyList(store, changes.views), listVersion: changes.version };
  for (const id of changes.removed) drop(store, id);
  for (const view of changes.views) put(store, fromView(store.subs.get(view.spec.id), view));
  // A changed spec may change what a filter matches.
  if (changes.views.length) store.shape++;
  return { ...store, listVersion: changes.version };
}

/** A history row as a UiEvent. */
export function fromStored(e: StoredEvent): UiEvent {
  return {
    key: `r${e.row}`,
    row: e.row,
    subscription: e.subscription,
    type: e.type,
    data: e.data,
    id: e.id ?? e.last_event_id,
    received_at: e.received_at,
    action: e.action,
  };
}

function fromLive(e: LiveEvent, seq: number): UiEvent {
  return {
    key: e.row === null ? `l${seq}` : `r${e.row}`,
    row: e.row,
    subscription: e.subscription,
    type: e.type,
    data: e.data,
    id: e.last_event_id,
    received_at: e.received_at,
    action: e.action,
  };
}

/** Newest-first order: recorded rows by row id; unrecorded ones by time. */
function newer(a: UiEvent, b: UiEvent): number {
  if (a.row !== null && b.row !== null) return b.row - a.row;
  return b.received_at - a.received_at;
}

/**
 * Merges events into a newest-first list, without duplicates (by key), keeping at most
 * `max`. `incoming` may be in any order.
 */
export function mergeEvents(existing: UiEvent[], incoming: UiEvent[], max = MAX_EVENTS): UiEvent[] {
  if (incoming.length === 0) return existing;
  const seen = new Set(existing.map((e) => e.key));
  const fresh = incoming.filter((e) => !seen.has(e.key) && (seen.add(e.key), true));
  if (fresh.length === 0) return existing;
  fresh.sort(newer);
  const first = existing[0];
  const last = existing[existing.length - 1];
  // The common cases without a full sort: all newer (live), or all older (a history page).
  if (!first || newer(fresh[fresh.length - 1]!, first) < 0) {
    return fresh.concat(existing).slice(0, max);
  }
  if (last && newer(last, fresh[0]!) < 0) {
    return existing.concat(fresh).slice(0, max);
  }
  return existing.concat(fresh).sort(newer).slice(0, max);
}

/** Applies one `ssenotify://update` batch. */
export function applyUpdate(store: Store, payload: UpdatePayload, max = MAX_EVENTS): Store {
  const subs = store.subs;
  for (const status of payload.statuses ?? []) {
    const prev = subs.get(status.id) ?? blank(status.id);
    put(store, { ...prev, status, timeline: pushTimeline(prev.timeline, status) });
  }
  for (const id of payload.removed ?? []) drop(store, id);
  let seq = store.seq;
  const bySub = new Map<string, UiEvent[]>();
  for (const e of payload.events ?? []) {
    const list = bySub.get(e.subscription) ?? [];
    list.push(fromLive(e, seq++));
    bySub.set(e.subscription, list);
  }
  for (const [id, events] of bySub) {
    // Events of a subscription the UI does not know (removed meanwhile, or not listed yet)
    // are left to history; the list refetch brings it in.
    const prev = subs.get(id);
    if (!prev) continue;
    put(store, { ...prev, events: mergeEvents(prev.events, events, max) });
  }
  let configError = store.configError;
  if (payload.config?.kind === "config") configError = payload.config.error ?? null;
  return { ...store, seq, dropped: store.dropped + (payload.dropped ?? 0), configError };
}

/** Adds a page of history (newest first) for one subscription. */
export function applyHistory(
  store: Store,
  id: string,
  page: StoredEvent[],
  requested: number,
  max = MAX_EVENTS,
): Store {
  const prev = store.subs.get(id) ?? blank(id);
  const events = mergeEvents(prev.events, page.map(fromStored), max);
  put(store, { ...prev, events, historyDone: prev.historyDone || (Number.isFinite(requested) && page.length < requested) });
  return { ...store };
}

/** Adds a page of history across subscriptions (startup seeding). */
export function applyHistoryAll(store: Store, page: StoredEvent[], max = MAX_EVENTS): Store {
  const bySub = new Map<string, StoredEvent[]>();
  for (const e of page) {
    const rows = bySub.get(e.subscription);
    if (rows) rows.push(e);
    else bySub.set(e.subscription, [e]);
  }
  let next = store;
  // A global page cannot tell whether a subscription's history is done: requested = Infinity.
  for (const [id, rows] of bySub) {
    if (next.subs.has(id)) next = applyHistory(next, id, rows, Number.POSITIVE_INFINITY, max);
  }
  return next;
}

/** Removes a subscription right away (before the next list arrives). */
export function removeSub(store: Store, id: string): Store {
  drop(store, id);
  return { ...store };
}

/** Start of the local day containing `now` (ms). */
export function startOfDay(now: number): number {
  const d = new Date(now);
  d.setHours(0, 0, 0, 0);
  return d.getTime();
}

/** Events received today among those held (newest first, so it stops early); gap rows do not count. */
export function eventsToday(sub: SubState, now: number): number {
  const start = startOfDay(now);
  let n = 0;
  for (const e of sub.events) {
    if (e.received_at < start) break;
    // A gap row is not an event.
    if (e.action !== "gap") n++;
  }
  return n;
}

/** What the list row shows for one subscription. */
export interface RowView {
  id: string;
  name: string;
  url: string;
  state: ReadyState | "PAUSED" | "UNKNOWN";
  readyState: ReadyState | "UNKNOWN";
  paused: boolean;
  enabled: boolean;
  /** The technical reason (the detail shows it on request). */
  reason: string;
  /** The reason in plain words when the daemon has them, else the reason. */
  says: string;
  since: number | null;
  eventsToday: number;
  eventsTotal: number | null;
  error: string | null;
}

export function rowView(sub: SubState, now: number): RowView {
  const s = sub.status;
  const paused = s?.paused ?? sub.spec?.paused ?? false;
  const readyState = s?.ready_state ?? "UNKNOWN";
  return {
    id: sub.id,
    name: s?.name ?? sub.spec?.name ?? sub.id,
    url: s?.url ?? sub.spec?.url ?? "",
    readyState,
    state: paused ? "PAUSED" : readyState,
    paused,
    enabled: s?.enabled ?? sub.spec?.enabled ?? true,
    reason: s?.reason ?? "",
    says: s?.hint ?? s?.reason ?? "",
    since: s?.since ?? null,
    eventsToday: eventsToday(sub, now),
    eventsTotal: s?.events ?? null,
    error: s?.error ?? null,
  };
}

/** The header's one-line summary of all subscriptions (from the kept counts: no loop). */
export function summary(store: Store): string {
  const { open, connecting, closed, paused } = store.counts;
  const parts = [`${store.subs.size} subscription${store.subs.size === 1 ? "" : "s"}`];
  if (open) parts.push(`${open} open`);
  if (connecting) parts.push(`${connecting} connecting`);
  if (closed) parts.push(`${closed} closed`);
  if (paused) parts.push(`${paused} paused`);
  return parts.join(", ");
}

/**
 * The ids, in list order, whose id, name or URL contains `text` (case-insensitive); all of
 * them for an empty filter. One pass over plain strings: no DOM is touched.
 */
export function matchingIds(store: Store, text: string): string[] {
  const needle = text.trim().toLowerCase();
  const ids: string[] = [];
  for (const sub of store.subs.values()) {
    if (!needle) {
      ids.push(sub.id);
      continue;
    }
    const name = sub.spec?.name ?? sub.status?.name ?? "";
    const url = sub.spec?.url ?? sub.status?.url ?? "";
    if ([sub.id, name, url].some((t) => t.toLowerCase().includes(needle))) ids.push(sub.id);
  }
  return ids;
}

/** "14:03:07" today, else "2025-06-01 14:03". */
export function formatTime(ms: number, now = Date.now()): string {
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, "0");
  const hms = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  if (ms >= startOfDay(now)) return hms;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${hms.slice(0, 5)}`;
}
