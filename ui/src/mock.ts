// Dev only (`npm run dev`, then open /mock.html): the UI against an in-memory fake of the
// app, with a feed that keeps sending events. Not part of the build (vite builds index.html).
import "./style.css";
import type { Api, LiveEvent, SubscriptionStatus, SubscriptionView, UpdatePayload } from "./api";
import { start } from "./app";

let row = 0;
let handler: ((p: UpdatePayload) => void) | undefined;
const st = (id: string, over: Partial<SubscriptionStatus> = {}): SubscriptionStatus => ({
  id, name: id, url: `http://127.0.0.1:8080/${id}`, enabled: true, paused: false,
  ready_state: "OPEN", reason: "connected (HTTP 200)", since: Date.now() - 60_000, events: 0, unread: 0, ...over,
});
let views: SubscriptionView[] = new URLSearchParams(location.search).has("empty")
  ? []
  : [
      { spec: { id: "demo", name: "Demo feed", url: "http://127.0.0.1:8080/demo" }, status: st("demo", { name: "Demo feed" }) },
      { spec: { id: "ci", name: "CI deploys", url: "https://ci.example.com/events" }, status: st("ci", { name: "CI deploys", ready_state: "CONNECTING", reason: "connection refused; retrying", retry_in_ms: 4000 }) },
      { spec: { id: "alerts", url: "https://ntfy.sh/alerts/sse", paused: true }, status: st("alerts", { paused: true, ready_state: "CLOSED", reason: "paused" }) },
    ];
const ev = (sub: string, type: string, data: string): LiveEvent => ({
  subscription: sub, row: ++row, type, data, last_event_id: String(row), action: "notified", received_at: Date.now(), unread: 0,
});
const api: Api = {
  appInfo: async () => ({ version: "0.1.0", configDir: "/c", dataDir: "/d", engine: "running", notice: null, dismissible: false, status: "mock" }),
  listSubscriptions: async () => views,
  listChanges: async () => ({ version: 1, full: true, views, removed: [] }),
  addSubscription: async (input) => {
    const id = input.id || "new";
    views = [...views, { spec: { id, url: input.url }, status: st(id, { ready_state: "CONNECTING", reason: "connecting" }) }];
    return id;
  },
  updateSubscription: async () => {},
  checkSubscription: async () => {},
  removeSubscription: async (id) => {
    views = views.filter((v) => v.spec.id !== id);
  },
  setPaused: async () => {},
  setAllPaused: async () => {},
  muteSubscription: async () => {},
  reconnectSubscription: async () => {},
  markRead: async () => {},
  exportToFile: async () => null,
  showAnyway: async () => {},
  testNotification: async () => ({ name: "mock", vendor: "ssenotify", version: "0", spec_version: "1.2", capabilities: [] }),
  importSubscriptions: async () => ({ added: ["news"], changed: [{ id: "ci", fields: ["url", "rules"], reconnect: true }], removed: [], unchanged: ["demo"], notifications_changed: true, warnings: [], trust: [] }),
  exportSubscriptions: async () => 'version = 1\n\n[[subscription]]\nid = "demo"\n',
  historyPage: async () => [],
  historyStats: async () => ({ count: row, last_received_at: Date.now(), retired: 0, oldest_row: 1, unmerged: 0 }),
  testRules: async () => ({ events: [{ event: { type: "deploy", data: '{"service":"api"}', last_event_id: "1" }, decision: { rule: 0, action: "notify", title: "api failed", body: "Step &lt;test&gt;", urgency: "critical" } }], summaries: [] }),
  addDemo: async () => {
    views = [...views, { spec: { id: "demo", url: "http://127.0.0.1:8080/demo" }, status: st("demo") }];
    return "demo";
  },
  getSettings: async () => ({ notifications: { quiet_hours: [{ days: ["mon"], from: "22:00", to: "07:00" }], rate_limit: { max: 5, per: "10s" } }, autostart: false }),
  setSettings: async () => {},
  hubToken: async () => "0123456789abcdef",
  takeOpenFiles: async () => [],
  quietState: async () => ({ kind: "quiet_hours", until: Date.now() + 3_600_000 }),
  setDoNotDisturb: async () => {},
  quit: async () => {},
  onUpdate: async (h) => {
    handler = h;
    return () => {};
  },
  onOpenFiles: async () => () => {},
};
setInterval(() => {
  handler?.({ statuses: [], events: [ev("demo", "news", `Headline ${row} <img src=x onerror=alert(1)>`), ev("demo", "chat", `{"from":"ann","text":"hi ${row}"}`)], dropped: 0, config: null });
}, 300);
const root = document.getElementById("app");
if (root) void start(root, api);

/** `__burst()` in the console: 10,000 events in 20 batches, as the app would send them. */
(window as unknown as { __burst: () => void }).__burst = () => {
  let n = 0;
  const t = setInterval(() => {
    handler?.({ statuses: [], events: Array.from({ length: 500 }, () => ev("demo", "burst", `burst ${row}`)), dropped: 0, config: null });
    if (++n === 20) clearInterval(t);
  }, 100);
};
