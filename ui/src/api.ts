// Typed access to the app's IPC: one function per Rust command (src-tauri/src/commands.rs)
// and one per event. Everything else in the UI goes through the `Api` interface, so tests
// can hand the view a fake without a webview.
import { invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";

/** `app_info`. */
export interface AppInfo {
  version: string;
  status: string;
  config_dir: string | null;
}

/** `get_settings` / `set_autostart`. */
export interface Settings {
  autostart: boolean;
}

/** What every command rejects with (a validation error names its field). */
export interface CommandError {
  message: string;
  field?: string;
}

/** A batch of engine updates (events.rs): items oldest first, and how many were left out. */
export interface Batch<T> {
  items: T[];
  dropped: number;
}

/** A subscription as the list shows it. Placeholder shape until the engine's type lands. */
export interface SubscriptionView {
  id: string;
  name: string;
  url: string;
  readyState: "CONNECTING" | "OPEN" | "CLOSED";
  reason?: string;
  changedAt?: string;
  eventsToday?: number;
  paused?: boolean;
}

/** Everything the UI asks of the app. */
export interface Api {
  appInfo(): Promise<AppInfo>;
  getSettings(): Promise<Settings>;
  setAutostart(enabled: boolean): Promise<Settings>;
  onStates(handler: (batch: Batch<SubscriptionView>) => void): Promise<UnlistenFn>;
  /** Files passed on the command line since the last call (each is handed out once). */
  takeOpenFiles(): Promise<string[]>;
  /** Called when files arrive on the command line; take them with takeOpenFiles. */
  onOpenFiles(handler: () => void): Promise<UnlistenFn>;
}

/** The real thing, over Tauri IPC. */
export const tauriApi: Api = {
  appInfo: () => invoke<AppInfo>("app_info"),
  getSettings: () => invoke<Settings>("get_settings"),
  setAutostart: (enabled) => invoke<Settings>("set_autostart", { enabled }),
  onStates: (handler) =>
    listen<Batch<SubscriptionView>>("engine:states", (e) => handler(e.payload)),
  takeOpenFiles: () => invoke<string[]>("take_open_files"),
  onOpenFiles: (handler) => listen("app:open-files", () => handler()),
};

/** A command's rejection as text (Tauri rejects with the serialized CommandError). */
export function errorText(err: unknown): string {
  if (typeof err === "string") return err;
  if (err && typeof err === "object" && "message" in err) {
    return String((err as { message: unknown }).message);
  }
  return String(err);
}
