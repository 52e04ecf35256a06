// Wires an Api to the store and the panes. The shell (header, toolbar, sidebar list) is built
// once; the sidebar repaints the rows in view on every batch (~10 a second at most), the
// open pane is told about changes (the detail view patches itself; forms are never rebuilt
// under the user). The list is fetched whole once, then as changes (list_changes).
import { errorText, toCommandError, type Api, type AppInfo, type QuietState, type StoredEvent, type SubscriptionSpec } from "./api";
import { el, replace, type Child } from "./dom";
import { addInput, RECENT_SAMPLE, toTranscript } from "./form";
import {
  applyChanges,
  applyHistory,
  applyHistoryAll,
  applyStats,
  applyUpdate,
  replaceHistory,
  emptyStore,
  formatClock,
  markWhole,
  MAX_EVENTS,
  plural,
  removeSub,
  summary,
  unreadOf,
  type Store,
  type SubState,
} from "./store";
import { button } from "./views/common";
import { detailView, muted, type DetailView } from "./views/detail";
import { formView } from "./views/form";
import { subList } from "./views/sublist";
import { importView, settingsView } from "./views/tools";

/** Rows per history page. */
const PAGE = 500;
/** Where the window remembers that the no-tray-host notice was dismissed for good. */
const DISMISSED_KEY = "ssenotify.notice.no-tray-host.dismissed";
/** How long a removal can be undone before it happens. */
export const UNDO_MS = 6_000;
/** How long events shown in the open detail wait before they are marked read. */
const READ_DELAY_MS = 1_000;
/** How long after the last events (and again while history says rows are unmerged) the
 * open subscription's count is asked again: history trims new rows to max_events within
 * 0.75 s (crates/history/src/fresh.rs, doomed.rs), later on a busy machine, and always by
 * the time it says no row is unmerged. */
export const HISTORY_SETTLE_MS = 750;
/** How often the header asks whether quiet hours began or ended. */
const QUIET_POLL_MS = 60_000;

type Pane =
  | { kind: "home" }
  | { kind: "detail"; id: string; view: DetailView }
  | { kind: "form"; editing: string | null }
  | { kind: "import" }
  | { kind: "settings" };

/** Starts the UI in `root` against `api`; resolves once the first answers arrived. */
export async function start(root: Element, api: Api): Promise<void> {
  let store: Store = emptyStore();
  let info: AppInfo | null = null;
  let pane: Pane = { kind: "home" };
  let openFiles: string[] = [];

  const status = el("p", { class: "status", id: "status", "data-testid": "app-status", role: "status" });
  const version = el("span", { class: "version" });
  // Whether notifications are held now, and the switch that holds them all.
  let quiet: QuietState | null = null;
  const quietNote = el("span", { "data-testid": "quiet-indicator", role: "status" });
  const showAnywayButton = button("Show anyway", () => void showAnyway(), { "data-testid": "show-anyway" });
  const quietBox = el("span", { class: "quiet-note", hidden: true }, [quietNote, showAnywayButton]);
  // Muted subscriptions hold their popups too: said beside quiet time.
  const muteNote = el("span", { class: "quiet-note", "data-testid": "mute-indicator", role: "status", hidden: true });
  const dndButton = button("Do not disturb", () => void toggleDnd(), { "data-testid": "dnd-toggle", "aria-pressed": "false" });
  // Unread events over every subscription, and the one click that reads them all.
  const unreadCount = el("span", { "data-testid": "unread-total" });
  const unreadBox = el("span", { class: "unread-total", hidden: true }, [
    unreadCount,
    button("Mark all read", () => void markRead(null), { "data-testid": "mark-all-read" }),
  ]);
  const engineNotice = el("div", { class: "notice notice-error", "data-testid": "engine-notice", role: "alert", hidden: true });
  const notice = el("div", { class: "notice-slot" });
  const sidebar = subList({
    open: (id) => openDetail(id),
    togglePause: (id, paused) => void togglePause(id, paused),
    edit: (id) => openForm(id),
    remove: (id) => remove(id),
  });
  const paneBox = el("section", { class: "pane", id: "pane", "aria-live": "off" });
  const nav = el("nav", { class: "toolbar", "aria-label": "Main" }, [
    button("+ Add subscription", () => openForm(null), { class: "primary", "data-testid": "add-subscription" }),
    button("Import / export", () => openImport(), { "data-testid": "open-import" }),
    button("Settings", () => void openSettings(), { "data-testid": "open-settings" }),
    el("span", { class: "spacer" }),
    button("Pause all", () => void run(() => api.setAllPaused(true)), { "data-testid": "pause-all" }),
    button("Resume all", () => void run(() => api.setAllPaused(false)), { "data-testid": "resume-all" }),
  ]);

  const layout = el("div", { class: "layout" }, [el("aside", { class: "sidebar" }, [sidebar.root]), paneBox]);
  replace(root, [
    el("header", { class: "app-header" }, [el("h1", {}, ["ssenotify"]), status, unreadBox, quietBox, muteNote, dndButton, version]),
    engineNotice,
    notice,
    nav,
    layout,
  ]);
  // Escape closes what is open over the list: a form, the import or the settings.
  root.addEventListener("keydown", (ev) => {
    const e = ev as KeyboardEvent;
    if (e.key !== "Escape" || e.defaultPrevented) return;
    if (pane.kind === "form") {
      e.preventDefault();
      if (pane.editing) openDetail(pane.editing);
      else renderHome();
    } else if (pane.kind === "import" || pane.kind === "settings") {
      e.preventDefault();
      renderHome();
    }
  });

  // --- notices ---
  function setNotice(kind: "info" | "error", text: string, extra: Child[] = []) {
    replace(notice, [
      el("p", { class: `notice notice-${kind}`, id: "notice", role: kind === "error" ? "alert" : "status" }, [text]),
      ...extra,
    ]);
  }
  function clearNotice() {
    replace(notice, []);
  }

  // --- header ---
  function renderHeader() {
    const parts: string[] = [];
    if (info) {
      const engine = info.engine;
      if (engine === "running") parts.push("engine running");
      else if (engine === "external") parts.push(`external daemon${info.enginePid ? ` (pid ${info.enginePid})` : ""}`);
      else parts.push(`engine: ${engine}`);
      if (store.subs.size) parts.push(summary(store));
      else if (info.status) parts.push(info.status);
    }
    if (store.configError) parts.push(`config error: ${store.configError}`);
    status.textContent = info ? parts.join(" · ") : "connecting to the app…";
    unreadBox.hidden = store.unread <= 0;
    renderMuted();
    unreadCount.textContent = plural(Math.max(store.unread, 0), "unread event");
    version.textContent = info ? `v${info.version}` : "";
    // The no-tray-host notice is information, hidden for good once the user says so;
    // other notices are problems and stay until they are gone.
    const notice = info?.notice ?? "";
    const dismissible = !!info?.dismissible;
    const dismissed = dismissible && localStorage.getItem(DISMISSED_KEY) === "1";
    engineNotice.className = `notice ${dismissible ? "notice-info" : "notice-error"}`;
    engineNotice.setAttribute("role", dismissible ? "status" : "alert");
    replace(engineNotice, [
      notice,
      dismissible
        ? button("Don't show again", () => {
            localStorage.setItem(DISMISSED_KEY, "1");
            renderHeader();
          }, { class: "notice-dismiss", "data-testid": "engine-notice-dismiss" })
        : null,
    ]);
    engineNotice.hidden = !notice || dismissed;
  }

  // --- muted subscriptions ---
  function renderMuted() {
    const now = Date.now();
    const held: { name: string; until: number }[] = [];
    for (const sub of store.subs.values()) {
      if (sub.spec?.mute_until && muted(sub, now)) {
        held.push({ name: sub.status?.name ?? sub.spec.name ?? sub.id, until: Date.parse(sub.spec.mute_until) });
      }
    }
    muteNote.hidden = held.length === 0;
    muteNote.textContent =
      held.length === 1
        ? `${held[0]!.name} muted until ${formatClock(held[0]!.until)}`
        : held.length > 1
          ? `${plural(held.length, "subscription")} muted`
          : "";
  }

  // --- quiet time ---
  function renderQuiet() {
    const dnd = quiet?.kind === "do_not_disturb";
    dndButton.setAttribute("aria-pressed", dnd ? "true" : "false");
    dndButton.classList.toggle("on", dnd);
    quietBox.hidden = !quiet;
    // Quiet hours can be lifted until they end; do not disturb has its own switch.
    showAnywayButton.hidden = quiet?.kind !== "quiet_hours";
    quietNote.textContent = !quiet
      ? ""
      : dnd
        ? "Do not disturb: notifications are held (critical ones show)"
        : `Quiet hours${quiet.until != null ? ` until ${formatClock(quiet.until)}` : ""}: notifications are held`;
  }
  async function refreshQuiet() {
    try {
      quiet = await api.quietState();
      renderQuiet();
    } catch {
      // No engine: the header says so already.
    }
  }
  async function showAnyway() {
    try {
      await api.showAnyway();
      await refreshQuiet();
    } catch (err) {
      setNotice("error", `Cannot show notifications anyway: ${errorText(err)}`);
    }
  }
  async function toggleDnd() {
    try {
      await api.setDoNotDisturb(quiet?.kind !== "do_not_disturb");
      await refreshQuiet();
    } catch (err) {
      setNotice("error", `Cannot change do not disturb: ${errorText(err)}`);
    }
  }

  // --- unread ---
  /** Marks `ids` (every subscription when null) read; the daemon's statuses follow. */
  async function markRead(ids: string[] | null) {
    try {
      await api.markRead(ids);
    } catch (err) {
      setNotice("error", `Cannot mark read: ${errorText(err)}`);
    }
  }
  // Events that arrive for the subscription on screen while the window has the focus are
  // read as they come; one request a second at most.
  let readSoon: ReturnType<typeof setTimeout> | null = null;
  function readWhatIsShown() {
    if (readSoon || pane.kind !== "detail" || document.hidden || !document.hasFocus()) return;
    const id = pane.id;
    const sub: SubState | undefined = store.subs.get(id);
    if (!sub || !unreadOf(sub)) return;
    readSoon = setTimeout(() => {
      readSoon = null;
      if (pane.kind === "detail" && pane.id === id) void markRead([id]);
    }, READ_DELAY_MS);
  }

  // --- sidebar ---
  function renderList() {
    const selectedId = pane.kind === "detail" ? pane.id : pane.kind === "form" ? pane.editing : null;
    sidebar.render(store, selectedId);
  }

  // --- panes ---
  function show(next: Pane, content: HTMLElement) {
    pane = next;
    // In a narrow window the pane replaces the list; Back brings the list again.
    // With nothing to list, the pane (the empty state and its demo button) is what shows.
    layout.classList.toggle("pane-open", next.kind !== "home" || store.subs.size === 0);
    const back = next.kind === "home" ? null : button("← Subscriptions", () => renderHome(), { class: "back", "data-testid": "back" });
    replace(paneBox, [back, content]);
    paneBox.scrollTop = 0;
    renderList();
  }

  function emptyState(): HTMLElement {
    return el("section", { class: "empty", id: "empty-state" }, [
      el("h2", {}, ["No subscriptions yet"]),
      el("p", {}, [
        "ssenotify listens to Server-Sent Events streams and turns their events into desktop notifications, even while this window is closed.",
      ]),
      el("p", {}, ["Try the demo feed: a small local server sends news, chat messages and a long task's progress, so you see notifications within seconds."]),
      el("div", { class: "actions center" }, [
        button("Try the demo feed", () => void tryDemo(), { id: "try-demo", class: "primary", "data-testid": "demo-button" }),
        button("Add a subscription", () => openForm(null)),
        button("Import a file", () => openImport()),
      ]),
    ]);
  }

  function renderHome() {
    const content = store.subs.size === 0
      ? emptyState()
      : el("div", { class: "home" }, [
          el("p", { class: "muted" }, ["Select a subscription to see its messages and connection history."]),
        ]);
    show({ kind: "home" }, content);
  }

  function openDetail(id: string) {
    const sub = store.subs.get(id);
    if (!sub) return;
    const view = detailView(sub, {
      togglePause: (sid, paused) => void togglePause(sid, paused),
      mute: (sid, minutes) => void run(() => api.muteSubscription(sid, minutes)),
      retry: (sid) => void run(() => api.reconnectSubscription(sid)),
      markRead: (sid) => void markRead([sid]),
      edit: (sid) => openForm(sid),
      remove: (sid) => remove(sid),
      loadOlder: (sid) => void loadOlder(sid),
    });
    show({ kind: "detail", id, view }, view.root);
    // Opening a subscription reads it, as in a chat app.
    if (unreadOf(sub)) void markRead([id]);
    // Events left out of a batch since this list was last made whole: page them in first.
    if (sub.whole < store.gapEpoch) void catchUp(id);
    else if (sub.events.length < PAGE && !sub.historyDone) void loadOlder(id);
    void refreshStats(id);
  }

  function openForm(id: string | null) {
    const spec = id ? store.subs.get(id)?.spec ?? null : null;
    show({ kind: "form", editing: id }, formView(spec, {
      save: (s, editing) => save(s, editing),
      check: async (s, isNew) => {
        try {
          await api.checkSubscription(s, isNew);
          return null;
        } catch (err) {
          return toCommandError(err);
        }
      },
      testRules: (s, transcript) => api.testRules(s, transcript),
      recentTranscript: id
        ? async () => toTranscript(await api.historyPage({ subscription: id, limit: RECENT_SAMPLE }))
        : undefined,
      cancel: () => (id ? openDetail(id) : renderHome()),
    }));
    paneBox.querySelector<HTMLElement>("[data-testid=form-url]")?.focus();
  }

  function openImport() {
    show({ kind: "import" }, importView({
      importText: async (text, format, replaceAll, dryRun, trust) => {
        const r = await api.importSubscriptions({ text, format, replace: replaceAll, dryRun, trust });
        if (!dryRun) await refresh();
        return r;
      },
      exportText: (format) => api.exportSubscriptions(format),
      exportFile: (format) => api.exportToFile(format),
      errorText: (err) => {
        const e = toCommandError(err);
        const lines = (e.problems ?? []).map((p) => (p.line ? `${p.line}:${p.column ?? 1}: ${p.message}` : p.message));
        return [e.message, ...lines.filter((l) => l !== e.message)].join("\n");
      },
    }, openFiles));
  }

  async function openSettings() {
    try {
      const settings = await api.getSettings();
      show({ kind: "settings" }, settingsView(settings, {
        hubToken: () => api.hubToken(),
        testNotification: async () => {
          try {
            const n = await api.testNotification();
            return `Sent. Notification server: ${n.name} ${n.version} (${n.vendor}), spec ${n.spec_version}.`;
          } catch (err) {
            return `No notification server: ${errorText(err)}`;
          }
        },
        save: async ({ notifications, autostart }) => {
          try {
            await api.setSettings({ notifications, autostart });
            return null;
          } catch (err) {
            return errorText(err);
          }
        },
        quit: async () => {
          try {
            await api.quit();
            return null;
          } catch (err) {
            return `Could not stop ssenotify: ${errorText(err)}`;
          }
        },
      }));
    } catch (err) {
      setNotice("error", `Cannot read the settings: ${errorText(err)}`);
    }
  }

  // --- commands ---
  let refreshing: Promise<void> | null = null;
  /** Fetches what changed in the list (all of it with `whole`, or when nothing was yet). */
  async function refresh(whole = false) {
    // One list_changes at a time; a call during one waits for it and then asks again.
    while (refreshing) await refreshing;
    refreshing = (async () => {
      store = applyChanges(store, await api.listChanges(whole ? null : store.listVersion));
      changed();
    })();
    try {
      await refreshing;
    } finally {
      refreshing = null;
    }
  }

  async function tryDemo() {
    try {
      const id = await api.addDemo();
      setNotice("info", "Demo feed added: notifications arrive within seconds.");
      await refresh();
      openDetail(id);
    } catch (err) {
      setNotice("error", `Cannot start the demo feed: ${errorText(err)}`);
    }
  }

  async function run(command: () => Promise<unknown>) {
    try {
      await command();
      await refresh();
    } catch (err) {
      setNotice("error", errorText(err));
    }
  }

  async function togglePause(id: string, paused: boolean) {
    try {
      await api.setPaused(id, paused);
      await refresh();
    } catch (err) {
      setNotice("error", errorText(err));
    }
  }

  // One way to remove, from the list or the detail: it goes at once from the window, with
  // Undo for a few seconds; only then is it removed (with its history) for real.
  const undoable = new Map<string, ReturnType<typeof setTimeout>>();
  function remove(id: string) {
    const sub = store.subs.get(id);
    if (!sub) return;
    const name = sub.spec?.name ?? sub.status?.name ?? id;
    undoable.set(id, setTimeout(() => void commitRemove(id), UNDO_MS));
    store = removeSub(store, id);
    if ((pane.kind === "detail" && pane.id === id) || (pane.kind === "form" && pane.editing === id)) renderHome();
    setNotice("info", `Removed ${name}, with its history.`, [
      button("Undo", () => undo(id), { class: "notice-action", "data-testid": "undo-remove" }),
    ]);
    changed();
  }

  function undo(id: string) {
    clearTimeout(undoable.get(id));
    undoable.delete(id);
    clearNotice();
    void refresh(true).catch(() => {});
  }

  async function commitRemove(id: string) {
    undoable.delete(id);
    try {
      await api.removeSubscription(id);
      if (notice.querySelector('[data-testid="undo-remove"]')) clearNotice();
      await refresh();
    } catch (err) {
      setNotice("error", errorText(err));
      await refresh(true).catch(() => {});
    }
  }

  async function save(spec: SubscriptionSpec, editing: string | null) {
    try {
      let id = editing;
      if (editing) {
        await api.updateSubscription(spec);
      } else {
        const { input, needsUpdate } = addInput(spec);
        id = await api.addSubscription(input);
        if (needsUpdate) {
          // add_subscription takes the basic fields; the rest goes in with an update of
          // the stored spec (whose clear secrets are now file: references).
          await refresh();
          const stored = store.subs.get(id)?.spec ?? { id, url: spec.url };
          const full: SubscriptionSpec = { ...spec, ...pickStored(stored), id };
          try {
            await api.updateSubscription(full);
          } catch (err) {
            await refresh();
            openForm(id);
            setNotice("error", `Added ${id}, but some settings were refused; fix them and save again.`);
            return toCommandError(err);
          }
        }
      }
      await refresh();
      clearNotice();
      if (id) openDetail(id);
      return null;
    } catch (err) {
      return toCommandError(err);
    }
  }

  async function loadOlder(id: string) {
    const sub = store.subs.get(id);
    if (!sub || sub.historyDone) return;
    const oldest = [...sub.events].reverse().find((e) => e.row !== null);
    try {
      const page = await api.historyPage({
        subscription: id,
        ...(oldest?.row != null ? { beforeRow: oldest.row } : {}),
        limit: PAGE,
      });
      store = applyHistory(store, id, page, PAGE);
      changed();
    } catch (err) {
      setNotice("error", `Cannot read the history: ${errorText(err)}`);
    }
  }

  /**
   * Reads `id`'s list again from history, newest first, up to what the window keeps: after
   * a batch left events out, what the window held may have holes anywhere (live events
   * arrive with gaps between them), so nothing short of history itself is the truth. One
   * read at a time; asked again meanwhile, it reads once more when done.
   */
  let catching = false;
  let catchAgain = false;
  async function catchUp(id: string) {
    if (catching) {
      catchAgain = true;
      return;
    }
    catching = true;
    try {
      let next: string | null = id;
      while (next) {
        catchAgain = false;
        const epoch = store.gapEpoch;
        const rows: StoredEvent[] = [];
        let before: number | undefined;
        while (rows.length < MAX_EVENTS) {
          const page = await api.historyPage({ subscription: next, ...(before !== undefined ? { beforeRow: before } : {}), limit: PAGE });
          rows.push(...page);
          const last = page[page.length - 1];
          if (!last || page.length < PAGE) break;
          before = last.row;
        }
        store = markWhole({ ...replaceHistory(store, next, rows, rows.length < MAX_EVENTS), dropped: 0 }, next, epoch);
        changed();
        next = catchAgain && pane.kind === "detail" ? pane.id : null;
      }
    } catch {
      // The next batch or opening it again will try again.
    } finally {
      catching = false;
    }
  }

  // The open subscription's history count: at most one request in flight, and one more
  // after it when events arrived meanwhile.
  let statsBusy = false;
  let statsAgain = false;
  async function refreshStats(id: string) {
    if (statsBusy) {
      statsAgain = true;
      return;
    }
    statsBusy = true;
    try {
      let next: string | null = id;
      while (next) {
        statsAgain = false;
        const stats = await api.historyStats(next);
        store = applyStats(store, next, stats);
        changed();
        // Rows retention has yet to act on (merged within half a second): the count will
        // change with no event to say so.
        if (stats.unmerged > 0) settleStats(next);
        next = statsAgain && pane.kind === "detail" ? pane.id : null;
      }
    } catch {
      // The count stays as it was; the next batch asks again.
    } finally {
      statsBusy = false;
    }
  }

  // History trims a subscription to its max_events up to 0.75 s after its newest rows
  // arrive (they join its indexes, then the oldest go with other subscriptions'): once
  // events stop, ask once more after that, so the list ends as history does.
  let settle: ReturnType<typeof setTimeout> | undefined;
  function settleStats(id: string) {
    clearTimeout(settle);
    settle = setTimeout(() => {
      if (pane.kind === "detail" && pane.id === id) void refreshStats(id);
    }, HISTORY_SETTLE_MS);
  }

  function changed() {
    // A list refetch or a status brings back what waits for its removal: not shown.
    for (const id of undoable.keys()) if (store.subs.has(id)) store = removeSub(store, id);
    renderHeader();
    renderList();
    if (pane.kind === "detail") {
      const sub = store.subs.get(pane.id);
      if (sub) pane.view.update(sub);
      else renderHome();
    } else if (pane.kind === "home") {
      const isEmpty = paneBox.querySelector("#empty-state") !== null;
      if (isEmpty !== (store.subs.size === 0)) renderHome();
    }
  }

  async function takeFiles() {
    const paths = await api.takeOpenFiles();
    if (!paths.length) return;
    openFiles = paths;
    setNotice("info", `Open: ${paths.join(", ")}`, [
      button("Import…", () => openImport(), { class: "notice-action", "data-testid": "open-files-import" }),
    ]);
  }

  // --- start ---
  renderHeader();
  renderHome();
  await api.onUpdate((payload) => {
    // A new link (the list may have changed while nobody watched) or a lagging stream
    // (statuses were missed): the whole list again.
    const whole = !!payload.engine || !!payload.resync;
    if (payload.engine) {
      info = payload.engine;
      renderHeader();
    }
    store = applyUpdate(store, payload);
    // A subscription the list does not know yet (added by the CLI): fetch its spec.
    const unknown = payload.statuses?.some((s) => !store.subs.get(s.id)?.spec);
    // A settings change (do not disturb from the tray, quiet hours edited) may change it.
    if (payload.config) void refreshQuiet();
    if (whole) void refresh(true).catch(() => {});
    else if ((payload.config || unknown) && !refreshing) void refresh().catch(() => {});
    changed();
    if (pane.kind === "detail") {
      const id = pane.id;
      if (payload.dropped) void catchUp(id);
      if (payload.dropped || payload.events?.some((e) => e.subscription === id)) {
        void refreshStats(id);
        settleStats(id);
        readWhatIsShown();
      }
    }
  });
  await api.onOpenFiles(() => void takeFiles().catch(() => {}));
  try {
    info = await api.appInfo();
    renderHeader();
    await refresh();
    // Quiet hours begin and end with no event to tell: look again each minute.
    await refreshQuiet();
    setInterval(() => void refreshQuiet(), QUIET_POLL_MS);
    try {
      store = applyHistoryAll(store, await api.historyPage({ limit: 1000 }));
      changed();
    } catch {
      // History is optional for the list; the detail view pages it in.
    }
    await takeFiles();
  } catch (err) {
    setNotice("error", errorText(err));
  }
}

/** The parts of a stored spec that the engine rewrote on add (secret references). */
function pickStored(stored: SubscriptionSpec): Partial<SubscriptionSpec> {
  const out: Partial<SubscriptionSpec> = {};
  if (stored.headers) out.headers = stored.headers;
  if (stored.name) out.name = stored.name;
  return out;
}
