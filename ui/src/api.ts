// Typed access to the app's IPC, exactly as docs/ipc.md describes it: one function per Rust
// command and one for the batched `ssenotify://update` event. Everything else in the UI goes
// through the `Api` interface, so tests can hand the view a fake without a webview.
import { invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";

import type {
  Action,
  AppInfo,
  CommandError,
  FieldProblem,
  HistoryStats,
  LiveEvent,
  QuietState,
  ReadyState,
  ServerInfo,
  Shown,
  Silence,
  StoredEvent,
  SubscriptionStatus,
  UpdateBatch,
} from "./protocol";

// Generated from the Rust types (ssenotify-protocol): re-exported under the names the views use.
export type {
  Action,
  AppInfo,
  CommandError,
  HistoryStats,
  LiveEvent,
  QuietState,
  ReadyState,
  Shown,
  Silence,
  StoredEvent,
  SubscriptionStatus,
};
/** One problem of a validation error. */
export type Problem = FieldProblem;
/** What the router did with an event. */
export type HistoryAction = Action;
/** The payload of `ssenotify://update`. */
export type UpdatePayload = UpdateBatch;
/** What the notification server says about itself. */
export type NotifierInfo = ServerInfo;

export type Urgency = "low" | "normal" | "critical";
export type RuleAction = "notify" | "history" | "drop" | "command";

/** A routing rule (docs/routing.md); keys left out are at their defaults. */
export interface RuleSpec {
  event?: string;
  when?: Record<string, unknown>[];
  action?: RuleAction;
  title?: string;
  body?: string;
  icon?: string;
  urgency?: Urgency;
  urgency_from?: string;
  urgency_map?: unknown;
  timeout?: string;
  category?: string;
  sound?: string;
  click_url?: string;
  replace_key?: string;
  progress?: string;
  app_name?: string;
  break_quiet?: boolean;
  command?: string[];
  command_timeout?: string;
  [key: string]: unknown;
}

export type AuthSpec =
  | { type: "basic"; username: string; password: string }
  | { type: "bearer"; token: string };

/** A subscription as the subscriptions file describes it (docs/subscriptions.md), as JSON. */
export interface SubscriptionSpec {
  id: string;
  name?: string;
  url: string;
  headers?: Record<string, string>;
  query?: Record<string, string>;
  auth?: AuthSpec;
  enabled?: boolean;
  paused?: boolean;
  reconnect_time?: string;
  backoff_cap?: string;
  idle_timeout?: string;
  max_event_size?: number;
  ca_file?: string;
  resume?: { cursor: string; query: string };
  history?: { max_events?: number; max_age?: string };
  rules?: RuleSpec[];
  rate_limit?: RateLimitSpec;
  mute_until?: string;
  [key: string]: unknown;
}

export interface SubscriptionView {
  spec: SubscriptionSpec;
  status: SubscriptionStatus | null;
}

/** What list_changes answers: the whole list, or only what changed since `since`. */
export interface SubscriptionChanges {
  /** Pass it as `since` next time. */
  version: number;
  /** true: `views` is every subscription; false: only the added or changed ones. */
  full: boolean;
  /** In file order. */
  views: SubscriptionView[];
  /** Ids no longer in the file (only when not full). */
  removed: string[];
}

export interface Notification {
  title: string;
  body: string;
  urgency?: Urgency;
  icon?: string;
  app_name?: string;
  category?: string;
  sound?: string;
  click_url?: string;
  replace_key?: string;
  progress?: number;
  timeout?: string;
}

/** One decision as `ssenotify route` prints it (flattened action). */
export interface Decision {
  rule: number | null;
  action: string;
  why?: string;
  notification?: Notification;
  title?: string;
  body?: string;
  urgency?: Urgency;
  argv?: string[];
  env?: Record<string, string>;
  timeout?: string;
  template_error?: string;
  refused_click_url?: { url: string; reason: string };
  [key: string]: unknown;
}

export interface RouteReport {
  events: { event: { type: string; data: string; last_event_id: string }; decision: Decision }[];
  summaries: Notification[];
  stopped?: string;
  /** The sample ends inside an event (no blank line after it): it was not routed. */
  unterminated?: boolean;
}

export interface ImportResult {
  added: string[];
  changed: { id: string; fields: string[]; reconnect: boolean }[];
  removed: string[];
  unchanged: string[];
  notifications_changed: boolean;
  warnings: string[];
  /** What the import would newly run or read; importing it needs `trust: true`. */
  trust?: TrustItem[];
}

/** One thing an import would let run (a command rule) or read (a reference outside secrets/). */
export type TrustItem =
  | { kind: "command"; subscription: string; server: string; rule: number; argv: string[] }
  | { kind: "read"; subscription: string; server: string; field: string; reference: string };

export interface RateLimitSpec {
  max?: number;
  per?: string;
  catch_up?: number;
}

export interface QuietHoursSpec {
  days?: string[];
  from: string;
  to: string;
}

export interface NotificationSettings {
  quiet_hours?: QuietHoursSpec[];
  rate_limit?: RateLimitSpec;
}

export interface Settings {
  notifications: NotificationSettings;
  autostart: boolean;
  /** The local event hub's `/events` URL (or `unix:PATH`), when `[hub] listen` is set. */
  hub?: string;
  /** Default history retention, when the backend reports it. */
  history?: { max_events?: number; max_age?: string };
}

export interface AddInput {
  url: string;
  id?: string;
  name?: string;
  headers: [string, string][];
  paused?: boolean;
}

export type ImportFormat = "toml" | "json" | "ntfy";

/** Everything the UI asks of the app. */
export interface Api {
  appInfo(): Promise<AppInfo>;
  listSubscriptions(): Promise<SubscriptionView[]>;
  /** The list, or only what changed after the answer of version `since`. */
  listChanges(since: number | null): Promise<SubscriptionChanges>;
  addSubscription(input: AddInput): Promise<string>;
  updateSubscription(spec: SubscriptionSpec): Promise<void>;
  /** Checks a subscription as adding (`isNew`) or saving it would, saving nothing. */
  checkSubscription(spec: SubscriptionSpec, isNew: boolean): Promise<void>;
  removeSubscription(id: string): Promise<void>;
  setPaused(id: string, paused: boolean): Promise<void>;
  setAllPaused(paused: boolean): Promise<void>;
  /** No popups for `minutes` (0 unmutes). */
  muteSubscription(id: string, minutes: number): Promise<void>;
  /** Reconnects now ("Retry now"): from CLOSED, or a wait before the next try. */
  reconnectSubscription(id: string): Promise<void>;
  /** Lifts the quiet hours in force until they end ("Show anyway"). */
  showAnyway(): Promise<void>;
  /** Saves the export to a file the user picks in a save dialog; null when they cancel. */
  exportToFile(format: "toml" | "json"): Promise<string | null>;
  /** Marks subscriptions read (every one when `ids` is null): their unread counts go to zero. */
  markRead(ids: string[] | null): Promise<void>;
  /** Shows a test notification; resolves to the notification server's identity. */
  testNotification(urgency?: Urgency): Promise<NotifierInfo>;
  importSubscriptions(args: {
    text: string;
    format?: ImportFormat;
    replace: boolean;
    dryRun: boolean;
    /** Allow what the dry run listed under `trust`; only after the user confirmed it. */
    trust?: boolean;
  }): Promise<ImportResult>;
  exportSubscriptions(format: "toml" | "json"): Promise<string>;
  historyPage(args: { subscription?: string; beforeRow?: number; limit: number }): Promise<StoredEvent[]>;
  /** How many events history holds for a subscription, and how many retention removed. */
  historyStats(subscription: string): Promise<HistoryStats>;
  testRules(spec: SubscriptionSpec, transcript: string): Promise<RouteReport>;
  addDemo(): Promise<string>;
  getSettings(): Promise<Settings>;
  setSettings(args: { notifications?: NotificationSettings; autostart?: boolean }): Promise<void>;
  /** The local event hub's bearer token (for copying; never shown unless asked). */
  hubToken(): Promise<string>;
  /** Files passed on the command line since the last call (each is handed out once). */
  takeOpenFiles(): Promise<string[]>;
  /** Whether notifications are held now (quiet hours, do not disturb), until when. */
  quietState(): Promise<QuietState | null>;
  /** Turns do not disturb on or off. */
  setDoNotDisturb(on: boolean): Promise<void>;
  /** Stops the engine (subscriptions, tray icon); the window closes with it. */
  quit(): Promise<void>;
  onUpdate(handler: (payload: UpdatePayload) => void): Promise<UnlistenFn>;
  /** Called when a second launch forwards files; take them with takeOpenFiles. */
  onOpenFiles(handler: () => void): Promise<UnlistenFn>;
}

/** The real thing, over Tauri IPC. */
export const tauriApi: Api = {
  appInfo: () => invoke<AppInfo>("app_info"),
  listSubscriptions: () => invoke<SubscriptionView[]>("list_subscriptions"),
  listChanges: (since) => invoke<SubscriptionChanges>("list_changes", since === null ? {} : { since }),
  addSubscription: (input) => invoke<string>("add_subscription", { input }),
  updateSubscription: (spec) => invoke<void>("update_subscription", { spec }),
  checkSubscription: (spec, isNew) => invoke<void>("check_subscription", { spec, new: isNew }),
  removeSubscription: (id) => invoke<void>("remove_subscription", { id }),
  setPaused: (id, paused) => invoke<void>("set_paused", { id, paused }),
  setAllPaused: (paused) => invoke<void>("set_all_paused", { paused }),
  muteSubscription: (id, minutes) => invoke<void>("mute_subscription", { id, minutes }),
  reconnectSubscription: (id) => invoke<void>("reconnect_subscription", { id }),
  markRead: (ids) => invoke<void>("mark_read", { ids }),
  exportToFile: (format) => invoke<string | null>("export_to_file", { format }),
  showAnyway: () => invoke<void>("show_anyway"),
  testNotification: (urgency) =>
    invoke<NotifierInfo>("test_notification", urgency ? { urgency } : {}),
  importSubscriptions: (args) => invoke<ImportResult>("import_subscriptions", { ...args }),
  exportSubscriptions: (format) => invoke<string>("export_subscriptions", { format }),
  historyPage: (args) => invoke<StoredEvent[]>("history_page", { ...args }),
  historyStats: (subscription) => invoke<HistoryStats>("history_stats", { subscription }),
  testRules: (spec, transcript) => invoke<RouteReport>("test_rules", { spec, transcript }),
  addDemo: () => invoke<string>("add_demo"),
  getSettings: () => invoke<Settings>("get_settings"),
  setSettings: (args) => invoke<void>("set_settings", { ...args }),
  hubToken: () => invoke<string>("hub_token"),
  takeOpenFiles: () => invoke<string[]>("take_open_files"),
  quietState: () => invoke<QuietState | null>("quiet_state"),
  setDoNotDisturb: (on) => invoke<void>("set_do_not_disturb", { on }),
  quit: () => invoke<void>("quit"),
  onUpdate: (handler) => listen<UpdatePayload>("ssenotify://update", (e) => handler(e.payload)),
  onOpenFiles: (handler) => listen("app:open-files", () => handler()),
};

/** A command's rejection as a CommandError (Tauri rejects with the serialized value). */
export function toCommandError(err: unknown): CommandError {
  if (typeof err === "string") return { message: err };
  if (err && typeof err === "object" && "message" in err) {
    const e = err as Record<string, unknown>;
    const out: CommandError = { message: String(e.message) };
    if (typeof e.field === "string") out.field = e.field;
    if (Array.isArray(e.problems)) {
      out.problems = e.problems
        .filter((p): p is Record<string, unknown> => !!p && typeof p === "object")
        .map((p) => {
          const problem: Problem = { message: String(p.message ?? "") };
          if (typeof p.field === "string") problem.field = p.field;
          if (typeof p.line === "number") problem.line = p.line;
          if (typeof p.column === "number") problem.column = p.column;
          return problem;
        });
    }
    return out;
  }
  return { message: String(err) };
}

/** A command's rejection as text. */
export function errorText(err: unknown): string {
  return toCommandError(err).message;
}
