// The UI's live state and the functions that change it: subscription specs and statuses,
// each subscription's recent events (newest first, capped), and its readyState timeline,
// all fed from list_changes, history_page and `ssenotify://update`.
//
// With 10,000 subscriptions nothing here may cost the whole set per update: the map of
// subscriptions is changed in place (an update costs what it carries), the header's counts
// are kept up to date as subscriptions change, and `shape` tells the list when the set of
// ids (or what a filter matches) changed, so it recomputes its rows only then. Each
// SubState is replaced, never changed, so a view can tell a change by identity.
import type { TimelineEntry as DaemonTimelineEntry } from "./protocol";
import type {
  HistoryStats,
  LiveEvent,
  Shown,
  ReadyState,
  Silence,
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
  /** The rule that matched (0-based), when one did and it is known. */
  rule: number | null;
  /** The notification the router made of it (shown or held), when it made one. */
  shown: Shown | null;
  /** What the last pressed http button of its notification got. */
  button: string | null;
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
  /** What history holds for it (the one count the window shows), once asked. */
  stats: HistoryStats | null;
  /** The store's `gapEpoch` when its events were last caught up with history. */
  whole: number;
}

/** How the header counts a subscription. */
export type Category = "open" | "connecting" | "closed" | "paused";

export interface Store {
  /** By id, in list order; changed in place (see the top of this file). */
  subs: Map<string, SubState>;
  /** How many subscriptions are in each category, kept as they change. */
  counts: Record<Category, number>;
  /** Unread events over every subscription (the daemon's counts), kept as they change. */
  unread: number;
  /** Bumped whenever ids come or go, or a spec changes: what a list shows may differ. */
  shape: number;
  /** The `version` of the last list_changes answer, to ask for what changed after it. */
  listVersion: number | null;
  /** Events the app left out of batches since the last refetch. */
  dropped: number;
  /** Bumped whenever a batch left events out: a subscription whose `whole` is lower may
   * miss some in the middle of its list until it is caught up from history. */
  gapEpoch: number;
  configError: string | null;
  /** A counter for unrecorded events' keys. */
  seq: number;
}

export function emptyStore(): Store {
  return {
    subs: new Map(),
    counts: { open: 0, connecting: 0, closed: 0, paused: 0 },
    unread: 0,
    shape: 0,
    listVersion: null,
    dropped: 0,
    gapEpoch: 0,
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
  if (prev) {
    store.counts[category(prev)]--;
    store.unread -= unreadOf(prev);
  } else store.shape++;
  store.counts[category(sub)]++;
  store.unread += unreadOf(sub);
  store.subs.set(sub.id, sub);
}

/** The daemon's unread count of `sub`. */
export function unreadOf(sub: SubState): number {
  return sub.status?.unread ?? 0;
}

/** Drops the subscription `id`, keeping the counts. */
function drop(store: Store, id: string): void {
  const prev = store.subs.get(id);
  if (!prev) return;
  store.counts[category(prev)]--;
  store.unread -= unreadOf(prev);
  store.subs.delete(id);
  store.shape++;
}

function blank(id: string): SubState {
  return { id, spec: null, status: null, events: [], timeline: [], historyDone: false, stats: null, whole: 0 };
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

/** The daemon's timeline (oldest first) as the UI keeps it (newest first). */
function daemonTimeline(entries: DaemonTimelineEntry[]): TimelineEntry[] {
  return entries
    .map((t) => {
      const entry: TimelineEntry = { at: t.at, state: t.state, reason: t.reason };
      if (t.status != null) entry.status = t.status;
      return entry;
    })
    .reverse();
}

/**
 * The view's subscription, keeping what the UI already knew (events). The daemon's
 * timeline, when the answer has one, is the truth: it survives a reload of the window.
 */
function fromView(prev: SubState | undefined, view: SubscriptionView): SubState {
  const base = prev ?? blank(view.spec.id);
  let timeline = base.timeline;
  let status = view.status ?? base.status;
  if (view.status?.timeline?.length) {
    timeline = daemonTimeline(view.status.timeline);
    // Held once, in `timeline`: not again in every status kept.
    const { timeline: _held, ...rest } = view.status;
    status = rest;
  } else if (view.status) timeline = pushTimeline(base.timeline, view.status);
  return { ...base, spec: view.spec, status, timeline };
}

/** The full list: keeps events and timelines, drops removed ids. */
export function applyList(store: Store, views: SubscriptionView[]): Store {
  const next: Store = { ...store, subs: new Map(), counts: { open: 0, connecting: 0, closed: 0, paused: 0 }, unread: 0 };
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
    rule: e.rule ?? null,
    shown: e.shown ?? null,
    button: e.button ?? null,
  };
}

function fromLive(e: LiveEvent, seq: number): UiEvent & { unread: number } {
  return {
    unread: e.unread,
    key: e.row === null ? `l${seq}` : `r${e.row}`,
    row: e.row,
    subscription: e.subscription,
    type: e.type,
    data: e.data,
    id: e.last_event_id,
    received_at: e.received_at,
    action: e.action,
    rule: e.rule ?? null,
    shown: e.shown ?? null,
    button: null,
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

/**
 * `status` with the unread count the newest of `events` (arrival order) carries. An event
 * at or before the status's `last_row` is older than the status (a "mark read" published
 * after it): its count is stale.
 */
function withUnread(status: SubscriptionStatus | null, events: (UiEvent & { unread: number })[]): SubscriptionStatus | null {
  if (!status) return status;
  let next = status;
  for (const e of events) {
    if (e.row !== null && next.last_row != null && e.row <= next.last_row) continue;
    next = { ...next, unread: e.unread, last_row: e.row ?? next.last_row };
  }
  return next;
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
  const bySub = new Map<string, (UiEvent & { unread: number })[]>();
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
    put(store, { ...prev, status: withUnread(prev.status, events), events: mergeEvents(prev.events, events, max) });
  }
  let configError = store.configError;
  if (payload.config?.kind === "config") configError = payload.config.error ?? null;
  const dropped = payload.dropped ?? 0;
  return { ...store, seq, dropped: store.dropped + dropped, gapEpoch: store.gapEpoch + (dropped ? 1 : 0), configError };
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

/**
 * Puts history's rows of `id` (newest first, all it holds when `done`) in place of its
 * list; events that arrived since (newer than the newest row read) stay on top.
 */
export function replaceHistory(store: Store, id: string, rows: StoredEvent[], done: boolean, max = MAX_EVENTS): Store {
  const prev = store.subs.get(id) ?? blank(id);
  const newest = rows[0]?.row ?? 0;
  const since = prev.events.filter((e) => e.row === null || e.row > newest);
  const events = mergeEvents(rows.map(fromStored), since, max);
  put(store, { ...prev, events, historyDone: done });
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

/** Marks `id`'s events as caught up with history as of the epoch `epoch`. */
export function markWhole(store: Store, id: string, epoch: number): Store {
  const prev = store.subs.get(id);
  if (!prev) return store;
  put(store, { ...prev, whole: Math.max(prev.whole, epoch) });
  return { ...store };
}

/**
 * Sets what history holds for `id` (from history_stats), and makes the list agree with it:
 * rows retention removed since they were paged in leave the list (the note below it counts
 * them), and a list holding every row history has is done.
 */
export function applyStats(store: Store, id: string, stats: HistoryStats): Store {
  const prev = store.subs.get(id);
  if (!prev) return store;
  const oldest = stats.oldest_row;
  let events = prev.events;
  if (stats.count === 0) events = events.filter((e) => e.row === null);
  else if (oldest !== null && events.some((e) => e.row !== null && e.row < oldest)) {
    events = events.filter((e) => e.row === null || e.row >= oldest);
  }
  // Holding history's oldest row means holding all of it only for a list without holes
  // (no batch left events out since it was read).
  const recorded = events.length && events[events.length - 1]!.row;
  const whole = prev.whole >= store.gapEpoch;
  const historyDone = prev.historyDone || (whole && stats.count > 0 && recorded === oldest);
  put(store, { ...prev, stats, events, historyDone });
  return { ...store };
}

/** "1 event", "2 events", "1,234 events": a count with its noun in the right number. */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n.toLocaleString("en-US")} ${n === 1 ? one : many}`;
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
  /** When the daemon last received an event for it. */
  lastEventAt: number | null;
  /** Events that asked for attention since it was last marked read. */
  unread: number;
  error: string | null;
  /** The raised silent-feed alarm in words ("silent since 02:10"), or null. */
  silent: string | null;
}

export function rowView(sub: SubState, now = Date.now()): RowView {
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
    lastEventAt: s?.last_event_at ?? null,
    unread: s?.unread ?? 0,
    error: s?.error ?? null,
    silent: s?.silent ? silentText(s.silent, now) : null,
  };
}

/** A raised silent-feed alarm in words: which silence, since the last counted event. */
export function silentText(silence: Silence, now: number): string {
  const what = silence.kind === "silent" ? "silent" : "no connection, no events";
  return `${what} since ${formatTime(silence.since, now)}`;
}

/** The header's one-line summary of all subscriptions (from the kept counts: no loop). */
export function summary(store: Store): string {
  const { open, connecting, closed, paused } = store.counts;
  const n = (count: number) => count.toLocaleString("en-US");
  const parts = [plural(store.subs.size, "subscription")];
  if (open) parts.push(`${n(open)} open`);
  if (connecting) parts.push(`${n(connecting)} connecting`);
  if (closed) parts.push(`${n(closed)} closed`);
  if (paused) parts.push(`${n(paused)} paused`);
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

// One format for every time the window shows, the locale's own (24-hour where it says so).
const CLOCK = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
const SHORT_CLOCK = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const DAY_AND_CLOCK = new Intl.DateTimeFormat(undefined, {
  year: "numeric",
  month: "2-digit",
  day: "2-digit",
  hour: "2-digit",
  minute: "2-digit",
});
const FULL = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

/** The time of day with seconds today ("14:03:07"), else the day and the minute. */
export function formatTime(ms: number, now = Date.now()): string {
  return ms >= startOfDay(now) ? CLOCK.format(ms) : DAY_AND_CLOCK.format(ms);
}

/** The time of day to the minute ("07:00"): when a quiet period or a mute ends. */
export function formatClock(ms: number): string {
  return SHORT_CLOCK.format(ms);
}

/** Day and time in full: the inspector, a mute's end. */
export function formatFull(ms: number): string {
  return FULL.format(ms);
}
