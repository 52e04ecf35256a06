import { describe, expect, it, vi } from "vitest";
import type { Api, AppInfo, LiveEvent, SubscriptionSpec, SubscriptionStatus, SubscriptionView, UpdatePayload } from "./api";
import { HISTORY_SETTLE_MS, start, UNDO_MS } from "./app";

const IMG = "<img src=x onerror=alert(1)>";
const SCRIPT = "<script>window.__pwned = true</script>";

const status = (id: string, over: Partial<SubscriptionStatus> = {}): SubscriptionStatus => ({
  id, name: id, url: `http://127.0.0.1/${id}`, enabled: true, paused: false,
  ready_state: "CONNECTING", reason: "connecting", since: Date.now(), events: 0, unread: 0, ...over,
});
let rowSeq = 0;
const live = (sub: string, over: Partial<LiveEvent> = {}): LiveEvent => {
  rowSeq += 1;
  return { subscription: sub, row: rowSeq, type: "message", data: `event ${rowSeq}`, last_event_id: String(rowSeq), action: "notified", received_at: Date.now(), unread: 0, ...over };
};

function fakeApi(opts: { files?: string[]; views?: SubscriptionView[]; notice?: string } = {}) {
  let onUpdate: ((p: UpdatePayload) => void) | undefined;
  let views: SubscriptionView[] = opts.views ?? [];
  let listed = 0;
  const files = [...(opts.files ?? [])];
  const api: Api = {
    appInfo: vi.fn(async (): Promise<AppInfo> => ({ version: "0.1.0", configDir: "/c", dataDir: "/d", engine: "running", notice: opts.notice ?? null, dismissible: false, status: "ok" })),
    listSubscriptions: vi.fn(async () => views),
    listChanges: vi.fn(async () => ({ version: ++listed, full: true, views, removed: [] })),
    addSubscription: vi.fn(async (input) => {
      if (input.url === "ftp://bad") throw { message: 'url: scheme "ftp" is not allowed', field: "url" };
      const id = input.id || "new";
      views = [...views, { spec: { id, url: input.url }, status: status(id) }];
      return id;
    }),
    updateSubscription: vi.fn(async () => {}),
    checkSubscription: vi.fn(async (spec: SubscriptionSpec) => {
      // As the real IPC: a value it cannot read refuses the whole request, about it alone.
      if (spec.reconnect_time !== undefined && !/^\d+(ms|s|m|h|d|w)$/.test(spec.reconnect_time)) {
        throw { message: "invalid args `spec` for command `check_subscription`: unknown time unit" };
      }
      if (spec.url.startsWith("ftp:")) throw { message: 'url: scheme "ftp" is not allowed', field: "url" };
      if (spec.headers && "Bad Name" in spec.headers) throw { message: "invalid", problems: [{ field: "headers.Bad Name", message: '"Bad Name" is not a valid header name' }] };
    }),
    removeSubscription: vi.fn(async (id) => {
      views = views.filter((v) => v.spec.id !== id);
    }),
    setPaused: vi.fn(async () => {}),
    setAllPaused: vi.fn(async () => {}),
    muteSubscription: vi.fn(async () => {}),
    reconnectSubscription: vi.fn(async () => {}),
    markRead: vi.fn(async () => {}),
    exportToFile: vi.fn(async () => "/home/me/subscriptions.toml"),
    showAnyway: vi.fn(async () => {}),
    testNotification: vi.fn(async () => ({ name: "dunst", vendor: "knopwob", version: "1.9", spec_version: "1.2", capabilities: ["body"] })),
    importSubscriptions: vi.fn(async () => ({ added: ["news"], changed: [{ id: "ci", fields: ["url"], reconnect: true }], removed: [], unchanged: [], notifications_changed: false, warnings: [] })),
    exportSubscriptions: vi.fn(async () => "version = 1\n"),
    historyPage: vi.fn(async () => []),
    historyStats: vi.fn(async () => ({ count: 0, last_received_at: null, retired: 0, oldest_row: null, unmerged: 0 })),
    testRules: vi.fn(async () => ({
      events: [{ event: { type: "message", data: IMG, last_event_id: "" }, decision: { rule: null, action: "notify", title: IMG, body: "&lt;script&gt;", urgency: "normal" as const } }],
      summaries: [],
    })),
    addDemo: vi.fn(async () => {
      views = [...views, { spec: { id: "demo", url: "http://127.0.0.1:1/demo" }, status: status("demo") }];
      return "demo";
    }),
    getSettings: vi.fn(async () => ({ notifications: {}, autostart: false })),
    setSettings: vi.fn(async () => {}),
    hubToken: vi.fn(async () => "s3cret-token"),
    takeOpenFiles: vi.fn(async () => files.splice(0)),
    quietState: vi.fn(async () => null),
    setDoNotDisturb: vi.fn(async () => {}),
    quit: vi.fn(async () => {}),
    onUpdate: vi.fn(async (handler) => {
      onUpdate = handler;
      return () => {};
    }),
    onOpenFiles: vi.fn(async () => () => {}),
  };
  const push = (p: Partial<UpdatePayload>) => onUpdate?.({ statuses: [], events: [], dropped: 0, config: null, ...p });
  return { api, push };
}

const q = <T extends Element = HTMLElement>(root: Element, testid: string) =>
  root.querySelector<T & Element>(`[data-testid="${testid}"]`);

async function boot(opts: Parameters<typeof fakeApi>[0] = {}) {
  const root = document.createElement("div");
  document.body.replaceChildren(root);
  const fake = fakeApi(opts);
  await start(root, fake.api);
  return { root, ...fake };
}

describe("the app", () => {
  it("shows the empty state, and the demo button adds the demo feed and opens it", async () => {
    const { root, api } = await boot();
    expect(root.querySelector("h1")?.textContent).toBe("ssenotify");
    expect(root.querySelector("#status")?.textContent).toContain("engine running");
    expect(root.querySelector("#empty-state h2")?.textContent).toBe("No subscriptions yet");
    root.querySelector<HTMLButtonElement>("#try-demo")!.click();
    await vi.waitFor(() => expect(q(root, "subscription-detail")?.getAttribute("data-id")).toBe("demo"));
    expect(api.addDemo).toHaveBeenCalledOnce();
    expect(root.querySelector("#notice")?.textContent).toContain("Demo feed added");
    expect(root.querySelector("#empty-state")).toBeNull();
  });

  it("shows the engine notice visibly", async () => {
    const { root } = await boot({ notice: "ssenotify run is already running (pid 42)" });
    const n = q(root, "engine-notice")!;
    expect(n.hidden).toBe(false);
    expect(n.textContent).toBe("ssenotify run is already running (pid 42)");
  });

  it("lets information be dismissed for good, never a problem", async () => {
    localStorage.clear();
    const root = document.createElement("div");
    document.body.replaceChildren(root);
    const fake = fakeApi({ notice: "This desktop shows no tray icons" });
    (fake.api.appInfo as ReturnType<typeof vi.fn>).mockImplementation(async () => ({
      version: "0.1.0", configDir: "/c", dataDir: "/d", engine: "running", notice: "This desktop shows no tray icons", dismissible: true, status: "ok",
    }));
    await start(root, fake.api);
    const n = q(root, "engine-notice")!;
    expect([n.hidden, n.getAttribute("role"), n.classList.contains("notice-info")]).toEqual([false, "status", true]);
    q<HTMLButtonElement>(n, "engine-notice-dismiss")!.click();
    expect(n.hidden).toBe(true);
    // A new window remembers.
    const again = document.createElement("div");
    document.body.replaceChildren(again);
    await start(again, fake.api);
    expect(q(again, "engine-notice")!.hidden).toBe(true);
    // A problem has no dismiss button.
    const { root: other } = await boot({ notice: "config error" });
    expect(q(other, "engine-notice-dismiss")).toBeNull();
    localStorage.clear();
  });

  it("follows the engine link: a notice when it stops, gone when it is back", async () => {
    const { root, push, api } = await boot({ views: [{ spec: { id: "a", url: "http://x" }, status: status("a") }] });
    const calls = (api.listChanges as ReturnType<typeof vi.fn>).mock.calls.length;
    push({ statuses: [], events: [], dropped: 0, config: null,
      engine: { version: "0.1.0", configDir: "/c", dataDir: "/d", engine: "error", notice: "the engine is not running: the engine stopped unexpectedly", dismissible: false, status: "engine not running" } });
    await vi.waitFor(() => expect(q(root, "engine-notice")!.hidden).toBe(false));
    expect(q(root, "engine-notice")!.textContent).toContain("stopped unexpectedly");
    expect(root.querySelector("#status")?.textContent).toContain("engine: error");
    push({ statuses: [], events: [], dropped: 0, config: null,
      engine: { version: "0.1.0", configDir: "/c", dataDir: "/d", engine: "running", enginePid: 7, notice: null, dismissible: false, status: "1 subscriptions, 1 open" } });
    await vi.waitFor(() => expect(q(root, "engine-notice")!.hidden).toBe(true));
    expect(root.querySelector("#status")?.textContent).toContain("engine running");
    // Each link change refetches the list: it may have changed while nobody watched.
    await vi.waitFor(() => expect((api.listChanges as ReturnType<typeof vi.fn>).mock.calls.length).toBeGreaterThan(calls));
  });

  it("updates the badge and reason live", async () => {
    const { root, push } = await boot({ views: [{ spec: { id: "a", url: "http://x" }, status: status("a") }] });
    const row = () => root.querySelector('[data-testid="subscription-row"][data-id="a"]')!;
    expect(q(row(), "ready-state")?.textContent).toBe("CONNECTING");
    push({ statuses: [status("a", { ready_state: "OPEN", reason: "connected" })] });
    expect(q(row(), "ready-state")?.textContent).toBe("OPEN");
    expect(q(row(), "state-reason")?.textContent).toBe("connected");
    push({ statuses: [status("a", { ready_state: "CONNECTING", reason: "server closed the stream" })] });
    expect(q(row(), "ready-state")?.textContent).toBe("CONNECTING");
    expect(q(row(), "state-reason")?.textContent).toBe("server closed the stream");
  });

  it("holds list renders while a row is pressed, so a click during a burst is not lost", async () => {
    const { root, push } = await boot({ views: [{ spec: { id: "a", url: "http://x" }, status: status("a") }] });
    const row = () => root.querySelector<HTMLElement>('[data-testid="subscription-row"][data-id="a"]')!;
    const pressed = row();
    pressed.dispatchEvent(new Event("pointerdown", { bubbles: true }));
    push({ statuses: [status("a", { ready_state: "OPEN", reason: "connected" })] });
    // The element under the pointer is still the one pressed: the click can land on it.
    expect(row()).toBe(pressed);
    window.dispatchEvent(new Event("pointerup"));
    q<HTMLButtonElement>(pressed, "ready-state")!.click();
    expect(q(root, "subscription-detail")?.getAttribute("data-id")).toBe("a");
    // The held render happens right after the click.
    await vi.waitFor(() => expect(q(row(), "ready-state")?.textContent).toBe("OPEN"));
    expect(row()).not.toBe(pressed);
  });

  it("renders hostile names, reasons and event data as literal text", async () => {
    const { root, push } = await boot({ views: [{ spec: { id: "a", url: "http://x" }, status: status("a", { name: IMG, reason: SCRIPT }) }] });
    push({ events: [live("a", { data: IMG, type: SCRIPT }), live("a", { data: SCRIPT })] });
    root.querySelector<HTMLButtonElement>('[data-id="a"] .sub-open')!.click();
    const rows = root.querySelectorAll('[data-testid="event-row"]');
    expect(rows).toHaveLength(2);
    expect(q(rows[0]!, "event-data")?.textContent).toBe(SCRIPT);
    expect(q(rows[1]!, "event-data")?.textContent).toBe(IMG);
    expect(q(rows[1]!, "event-type")?.textContent).toBe(SCRIPT);
    expect(root.querySelector(".sub-name")?.textContent).toBe(IMG);
    (rows[1] as HTMLElement).click();
    expect(q(root, "inspector-data")?.textContent).toBe(IMG);
    expect(root.querySelector("img, script")).toBeNull();
    expect((window as unknown as { __pwned?: boolean }).__pwned).toBeUndefined();
  });

  it("keeps the detail list virtual with 10,000 events, newest first", async () => {
    const { root, push } = await boot({ views: [{ spec: { id: "a", url: "http://x" }, status: status("a", { ready_state: "OPEN" }) }] });
    root.querySelector<HTMLButtonElement>('[data-id="a"] .sub-open')!.click();
    const t0 = performance.now();
    for (let b = 0; b < 20; b++) push({ events: Array.from({ length: 500 }, () => live("a")) });
    const elapsed = performance.now() - t0;
    const rows = root.querySelectorAll('[data-testid="event-row"]');
    expect(rows.length).toBeGreaterThan(5);
    expect(rows.length).toBeLessThan(40);
    expect(q(rows[0]!, "event-data")?.textContent).toBe(`event ${rowSeq}`);
    expect(root.querySelector(".list-note")?.textContent).toContain("10,000 messages");
    expect(elapsed).toBeLessThan(2000);
  });

  it("adds through the form and shows engine errors next to the field", async () => {
    const { root, api } = await boot();
    q<HTMLButtonElement>(root, "add-subscription")!.click();
    const form = q<HTMLFormElement>(root, "subscription-form")!;
    q<HTMLInputElement>(form, "form-url")!.value = "ftp://bad";
    form.requestSubmit();
    await vi.waitFor(() => expect(q(form, "form-error-url")?.hidden).toBe(false));
    expect(q(form, "form-error-url")?.textContent).toContain("ftp");
    q<HTMLInputElement>(form, "form-url")!.value = "http://127.0.0.1:9/sse";
    q<HTMLInputElement>(form, "form-id")!.value = "local";
    form.requestSubmit();
    await vi.waitFor(() => expect(q(root, "subscription-detail")?.getAttribute("data-id")).toBe("local"));
    expect(api.addSubscription).toHaveBeenLastCalledWith({ url: "http://127.0.0.1:9/sse", id: "local", headers: [] });
    expect(api.updateSubscription).not.toHaveBeenCalled();
  });

  it("checks fields as they are typed, each error next to its field, headers on their row", async () => {
    const { root, api } = await boot();
    q<HTMLButtonElement>(root, "add-subscription")!.click();
    const form = q<HTMLFormElement>(root, "subscription-form")!;
    const typeInto = (el: HTMLInputElement, text: string) => {
      el.value = text;
      el.dispatchEvent(new Event("input", { bubbles: true }));
    };
    typeInto(q<HTMLInputElement>(form, "form-url")!, "ftp://bad");
    await vi.waitFor(() => expect(q(form, "form-error-url")?.hidden).toBe(false));
    expect(q(form, "form-error-url")?.textContent).toContain('scheme "ftp"');
    expect(api.checkSubscription).toHaveBeenCalled();
    expect(api.addSubscription).not.toHaveBeenCalled();
    // Fixed as typed: the error goes.
    typeInto(q<HTMLInputElement>(form, "form-url")!, "http://127.0.0.1:9/sse");
    await vi.waitFor(() => expect(q(form, "form-error-url")?.hidden).toBe(true));
    // A header the engine refuses: on its own row.
    q<HTMLButtonElement>(form, "form-add-header")!.click();
    q<HTMLButtonElement>(form, "form-add-header")!.click();
    const rows = form.querySelectorAll<HTMLElement>(".header-row");
    typeInto(rows[0]!.querySelector<HTMLInputElement>(".h-name")!, "X-Ok");
    typeInto(rows[1]!.querySelector<HTMLInputElement>(".h-name")!, "Bad Name");
    await vi.waitFor(() => expect(q(form, "form-error-headers-1")?.hidden).toBe(false));
    expect(q(form, "form-error-headers-1")?.textContent).toContain("not a valid header name");
    expect(q(form, "form-error-headers-0")?.hidden).toBe(true);
    expect(q(form, "form-error-url")?.hidden).toBe(true);
    // An error found here (a duration) does not hide the engine's (the URL).
    typeInto(q<HTMLInputElement>(form, "form-url")!, "ftp://bad");
    typeInto(q<HTMLInputElement>(form, "form-reconnect_time")!, "5 parsecs");
    await vi.waitFor(() => expect(q(form, "form-error-reconnect_time")?.hidden).toBe(false));
    await vi.waitFor(() => expect(q(form, "form-error-url")?.hidden).toBe(false));
    expect(q(form, "form-error-url")?.textContent).toContain('scheme "ftp"');
  });

  it("edits with the full spec and runs the rule tester", async () => {
    const { root, api } = await boot({ views: [{ spec: { id: "a", url: "http://x", rules: [{ event: "deploy", title: "T" }] }, status: status("a") }] });
    q<HTMLButtonElement>(root, "row-edit")!.click();
    const form = q<HTMLFormElement>(root, "subscription-form")!;
    expect(q<HTMLInputElement>(form, "rule-0-event")!.value).toBe("deploy");
    q<HTMLButtonElement>(form, "tester-run")!.click();
    await vi.waitFor(() => expect(q(form, "tester-title")).not.toBeNull());
    expect(q(form, "tester-title")?.textContent).toBe(IMG);
    expect(q(form, "tester-body")?.textContent).toBe("<script>");
    expect(form.querySelector("img, script")).toBeNull();
    // The tester takes the subscription's recent messages from history.
    (api.historyPage as ReturnType<typeof vi.fn>).mockImplementationOnce(async () => [
      { row: 9, subscription: "a", type: "deploy", data: "v2", id: "9", last_event_id: "9", received_at: 9, action: "notified" },
    ]);
    q<HTMLButtonElement>(form, "tester-recent")!.click();
    await vi.waitFor(() => expect(q<HTMLTextAreaElement>(form, "tester-transcript")!.value).toBe("event: deploy\nid: 9\ndata: v2\n\n"));
    expect(api.historyPage).toHaveBeenLastCalledWith({ subscription: "a", limit: 20 });
    await vi.waitFor(() => expect(api.testRules).toHaveBeenLastCalledWith(expect.anything(), "event: deploy\nid: 9\ndata: v2\n\n"));
    // A sample cut before its blank line is said to be one.
    (api.testRules as ReturnType<typeof vi.fn>).mockImplementationOnce(async () => ({ events: [], summaries: [], unterminated: true }));
    q<HTMLButtonElement>(form, "tester-run")!.click();
    await vi.waitFor(() => expect(q(form, "tester-unterminated")?.textContent).toMatch(/^The sample ends inside an event/));
    q<HTMLInputElement>(form, "form-name")!.value = "Renamed";
    form.requestSubmit();
    await vi.waitFor(() => expect(api.updateSubscription).toHaveBeenCalled());
    expect(api.updateSubscription).toHaveBeenCalledWith({ id: "a", url: "http://x", name: "Renamed", rules: [{ event: "deploy", title: "T" }] });
  });

  it("saves the export to a file picked in a dialog, and says nothing when it was cancelled", async () => {
    const { root, api } = await boot();
    q<HTMLButtonElement>(root, "open-import")!.click();
    q<HTMLSelectElement>(root, "export-format")!.value = "json";
    q<HTMLButtonElement>(root, "export-save")!.click();
    await vi.waitFor(() => expect(q(root, "export-status")?.textContent).toBe("Saved to /home/me/subscriptions.toml."));
    expect(api.exportToFile).toHaveBeenCalledWith("json");
    (api.exportToFile as ReturnType<typeof vi.fn>).mockImplementationOnce(async () => null);
    q<HTMLButtonElement>(root, "export-save")!.click();
    await vi.waitFor(() => expect(q(root, "export-status")?.textContent).toBe(""));
    (api.exportToFile as ReturnType<typeof vi.fn>).mockImplementationOnce(async () => {
      throw { message: "cannot write /ro/x.toml: Permission denied" };
    });
    q<HTMLButtonElement>(root, "export-save")!.click();
    await vi.waitFor(() => expect(q(root, "export-status")?.textContent).toContain("Permission denied"));
  });

  it("imports after a dry run", async () => {
    const { root, api } = await boot({ files: ["/a/<b>subs</b>.toml"] });
    expect(root.querySelector("#notice")?.textContent).toBe("Open: /a/<b>subs</b>.toml");
    q<HTMLButtonElement>(root, "open-files-import")!.click();
    expect(q(root, "open-files")?.textContent).toContain("/a/<b>subs</b>.toml");
    q<HTMLTextAreaElement>(root, "import-text")!.value = "version = 1";
    expect(q<HTMLButtonElement>(root, "import-confirm")!.disabled).toBe(true);
    q<HTMLButtonElement>(root, "import-dry-run")!.click();
    await vi.waitFor(() => expect(q(root, "diff-view")?.textContent).toContain("news"));
    expect(q(root, "diff-view")?.textContent).toContain("~ ci (url) — reconnects");
    expect(api.importSubscriptions).toHaveBeenLastCalledWith({ text: "version = 1", format: "toml", replace: false, dryRun: true, trust: false });
    expect(q(root, "import-trust")).toBeNull();
    q<HTMLButtonElement>(root, "import-confirm")!.click();
    await vi.waitFor(() => expect(q(root, "diff-view")?.textContent).toContain("Imported"));
    expect(api.importSubscriptions).toHaveBeenLastCalledWith({ text: "version = 1", format: "toml", replace: false, dryRun: false, trust: false });
  });

  it("imports what would run or read only after a confirmation that names it", async () => {
    const { root, api } = await boot();
    const needsTrust = {
      added: ["ci"], changed: [], removed: [], unchanged: [], notifications_changed: false, warnings: [],
      trust: [
        { kind: "command" as const, subscription: "ci", server: "https://evil.example", rule: 0, argv: ["/bin/sh", "-c", "curl x"] },
        { kind: "read" as const, subscription: "ci", server: "https://evil.example", field: "headers.X-Key", reference: "file:~/.ssh/id_ed25519" },
      ],
    };
    (api.importSubscriptions as ReturnType<typeof vi.fn>).mockResolvedValue(needsTrust);
    q<HTMLButtonElement>(root, "open-import")!.click();
    const text = q<HTMLTextAreaElement>(root, "import-text")!;
    text.value = "shared";
    q<HTMLButtonElement>(root, "import-dry-run")!.click();
    await vi.waitFor(() => expect(q(root, "import-trust-list")).not.toBeNull());
    const list = q(root, "import-trust-list")!.textContent!;
    expect(list).toContain('ci: rule 1 runs ["/bin/sh","-c","curl x"] on events from https://evil.example');
    expect(list).toContain("ci: headers.X-Key reads file ~/.ssh/id_ed25519 and sends it to https://evil.example");
    expect(list).toContain("allow it to run /bin/sh and read file ~/.ssh/id_ed25519");
    const confirm = q<HTMLButtonElement>(root, "import-confirm")!;
    const box = q<HTMLInputElement>(root, "import-trust")!;
    expect(confirm.disabled).toBe(true);
    box.click();
    expect(confirm.disabled).toBe(false);
    box.click();
    expect(confirm.disabled).toBe(true);
    // Changing the input after the dry run asks for a new one: the old consent does not carry over.
    box.click();
    text.value = "something else";
    text.dispatchEvent(new Event("input"));
    expect(confirm.disabled).toBe(true);
    expect(box.disabled).toBe(true);
    text.value = "shared";
    q<HTMLButtonElement>(root, "import-dry-run")!.click();
    await vi.waitFor(() => expect([null, box]).not.toContain(q<HTMLInputElement>(root, "import-trust")));
    expect(q<HTMLInputElement>(root, "import-trust")!.checked).toBe(false);
    q<HTMLInputElement>(root, "import-trust")!.click();
    q<HTMLButtonElement>(root, "import-confirm")!.click();
    await vi.waitFor(() => expect(q(root, "diff-view")?.textContent).toContain("Imported"));
    expect(api.importSubscriptions).toHaveBeenLastCalledWith({ text: "shared", format: "toml", replace: false, dryRun: false, trust: true });
  });

  it("saves settings", async () => {
    const { root, api } = await boot();
    q<HTMLButtonElement>(root, "open-settings")!.click();
    await vi.waitFor(() => expect(q(root, "settings-view")).not.toBeNull());
    q<HTMLButtonElement>(root, "settings-add-quiet")!.click();
    q<HTMLInputElement>(root, "settings-rate-max")!.value = "3";
    q<HTMLInputElement>(root, "settings-autostart")!.checked = true;
    q<HTMLFormElement>(root, "settings-view")!.requestSubmit();
    await vi.waitFor(() => expect(api.setSettings).toHaveBeenCalled());
    expect(api.setSettings).toHaveBeenCalledWith({
      notifications: { quiet_hours: [{ from: "22:00", to: "07:00" }], rate_limit: { max: 3 } },
      autostart: true,
    });
  });

  it("shows the hub's address and copies its token without showing it", async () => {
    const { root, api } = await boot();
    api.getSettings = vi.fn(async () => ({ notifications: {}, autostart: false, hub: "http://127.0.0.1:47412/events" }));
    const written: string[] = [];
    Object.defineProperty(navigator, "clipboard", { value: { writeText: async (t: string) => void written.push(t) }, configurable: true });
    q<HTMLButtonElement>(root, "open-settings")!.click();
    await vi.waitFor(() => expect(q(root, "settings-hub")?.textContent).toBe("http://127.0.0.1:47412/events"));
    q<HTMLButtonElement>(root, "settings-hub-copy")!.click();
    await vi.waitFor(() => expect(q(root, "settings-hub-status")!.textContent).toBe("Token copied."));
    expect(written).toEqual(["s3cret-token"]);
    expect(root.textContent).not.toContain("s3cret-token");
    q<HTMLButtonElement>(root, "settings-hub-show")!.click();
    await vi.waitFor(() => expect(q(root, "settings-hub-token")!.textContent).toBe("s3cret-token"));
  });

  it("quits from the settings, without saving them, and shows why when it cannot", async () => {
    const { root, api } = await boot();
    q<HTMLButtonElement>(root, "open-settings")!.click();
    await vi.waitFor(() => expect(q(root, "settings-view")).not.toBeNull());
    q<HTMLButtonElement>(root, "settings-quit")!.click();
    await vi.waitFor(() => expect(api.quit).toHaveBeenCalledOnce());
    expect(api.setSettings).not.toHaveBeenCalled();
    (api.quit as ReturnType<typeof vi.fn>).mockRejectedValueOnce({ message: "the engine did not answer: timed out" });
    q<HTMLButtonElement>(root, "settings-quit")!.click();
    await vi.waitFor(() =>
      expect(q(root, "settings-quit-status")!.textContent).toBe("Could not stop ssenotify: the engine did not answer: timed out"),
    );
  });

  it("removes at once from the window, with Undo for a few seconds, then for real", async () => {
    const { root, api } = await boot({ views: [{ spec: { id: "a", url: "http://x" }, status: status("a") }, { spec: { id: "b", url: "http://y" }, status: status("b") }] });
    vi.useFakeTimers();
    try {
      const ids = () => [...root.querySelectorAll<HTMLElement>('[data-testid="subscription-row"]')].map((r) => r.dataset.id);
      // From the list: gone, undone, back; nothing removed.
      root.querySelector<HTMLButtonElement>('[data-testid="subscription-row"][data-id="a"] [data-testid="row-remove"]')!.click();
      expect(ids()).toEqual(["b"]);
      expect(root.querySelector("#notice")?.textContent).toBe("Removed a, with its history.");
      q<HTMLButtonElement>(root, "undo-remove")!.click();
      await vi.waitFor(() => expect(ids()).toEqual(["a", "b"]));
      await vi.advanceTimersByTimeAsync(UNDO_MS + 100);
      expect(api.removeSubscription).not.toHaveBeenCalled();
      // From the detail, the same way: removed for real once Undo is no longer offered.
      root.querySelector<HTMLElement>('[data-testid="subscription-row"][data-id="b"] .sub-open')!.click();
      q<HTMLButtonElement>(root, "detail-remove")!.click();
      expect(q(root, "subscription-detail")).toBeNull();
      expect(ids()).toEqual(["a"]);
      await vi.advanceTimersByTimeAsync(UNDO_MS + 100);
      expect(api.removeSubscription).toHaveBeenCalledWith("b");
    } finally {
      vi.useRealTimers();
    }
  });

  it("tests rules before a URL is typed, and reports bad conditions", async () => {
    const { root, api } = await boot();
    q<HTMLButtonElement>(root, "add-subscription")!.click();
    const form = q<HTMLFormElement>(root, "subscription-form")!;
    q<HTMLButtonElement>(form, "form-add-rule")!.click();
    q<HTMLTextAreaElement>(form, "rule-0-when")!.value = "{oops";
    q<HTMLButtonElement>(form, "tester-run")!.click();
    await vi.waitFor(() => expect(q(form, "tester-result")?.textContent).toContain("not valid JSON"));
    expect(api.testRules).not.toHaveBeenCalled();
    q<HTMLTextAreaElement>(form, "rule-0-when")!.value = '[{"contains":"x"}]';
    q<HTMLButtonElement>(form, "tester-run")!.click();
    await vi.waitFor(() => expect(api.testRules).toHaveBeenCalled());
    const [spec] = (api.testRules as ReturnType<typeof vi.fn>).mock.calls[0]!;
    expect(spec).toEqual({ id: "test", url: "http://localhost/", rules: [{ when: [{ contains: "x" }] }] });
  });

  it("moves through messages with the keyboard and shows the selected one", async () => {
    const { root, push } = await boot({ views: [{ spec: { id: "a", url: "http://x" }, status: status("a") }] });
    q<HTMLElement>(root, "subscription-row")!.click();
    expect(q(root, "subscription-detail")?.getAttribute("data-id")).toBe("a");
    push({ events: [live("a", { data: "first" }), live("a", { data: "second", action: "rate_limited" })] });
    const list = q<HTMLElement>(root, "event-list")!;
    list.dispatchEvent(new KeyboardEvent("keydown", { key: "ArrowDown", bubbles: true }));
    expect(q(root, "inspector-data")?.textContent).toBe("second");
    expect(q(root, "inspector-action")?.textContent).toBe("rate_limited");
    list.dispatchEvent(new KeyboardEvent("keydown", { key: "ArrowDown", bubbles: true }));
    expect(q(root, "inspector-data")?.textContent).toBe("first");
    expect(list.getAttribute("aria-activedescendant")).toMatch(/^ev-a-/);
    expect(root.querySelector('[data-testid="event-row"][aria-selected="true"] [data-testid="event-data"]')?.textContent).toBe("first");
  });

  it("keeps a timeline of state changes with reasons", async () => {
    const { root, push } = await boot({ views: [{ spec: { id: "a", url: "http://x" }, status: status("a") }] });
    q<HTMLElement>(root, "subscription-row")!.click();
    push({ statuses: [status("a", { ready_state: "OPEN", reason: "connected" })] });
    push({ statuses: [status("a", { ready_state: "CONNECTING", reason: "HTTP 503", status: 503 })] });
    const items = [...root.querySelectorAll('[data-testid="state-timeline"] li')].map((li) => li.textContent);
    expect(items).toHaveLength(3);
    expect(items[0]).toContain("CONNECTING");
    expect(items[0]).toContain("HTTP 503");
    expect(items[1]).toContain("connected");
  });

  it("offers Retry now on a CLOSED subscription, not on an open or paused one", async () => {
    const { root, push, api } = await boot({
      views: [{ spec: { id: "a", url: "http://x" }, status: status("a", { ready_state: "CLOSED", reason: "HTTP 404 Not Found", status: 404 }) }],
    });
    q<HTMLElement>(root, "subscription-row")!.click();
    q<HTMLElement>(root, "detail-retry")!.click();
    await vi.waitFor(() => expect(api.reconnectSubscription).toHaveBeenCalledWith("a"));
    push({ statuses: [status("a", { ready_state: "OPEN", reason: "HTTP 200 OK" })] });
    await vi.waitFor(() => expect(q(root, "detail-retry")).toBeNull());
    push({ statuses: [status("a", { ready_state: "CLOSED", reason: "paused by user", paused: true })] });
    await vi.waitFor(() => expect(q(root, "detail-ready-state")!.textContent).toBe("CLOSED"));
    expect(q(root, "detail-retry")).toBeNull();
    // Paused is not shown as a failure.
    expect(q(root, "detail-ready-state")!.className).toContain("badge-paused");
    expect(q(root, "ready-state")!.className).not.toContain("badge-closed");
  });

  it("counts unread events per subscription and in all, and reads them when opened or all at once", async () => {
    const { root, push, api } = await boot({
      views: [
        { spec: { id: "a", url: "http://x/a" }, status: status("a", { ready_state: "OPEN" }) },
        { spec: { id: "b", url: "http://x/b" }, status: status("b", { ready_state: "OPEN", unread: 2 }) },
      ],
    });
    const badge = (id: string) => root.querySelector(`[data-testid="subscription-row"][data-id="${id}"] [data-testid="unread"]`)?.textContent ?? null;
    expect(badge("b")).toBe("2");
    expect(badge("a")).toBeNull();
    expect(q(root, "unread-total")!.textContent).toBe("2 unread events");
    // Each event carries its subscription's count: the newest one wins, even after a
    // batch that left events out; an event kept in history only counts nothing.
    const e1 = live("a", { unread: 1 });
    const e2 = live("a", { unread: 2 });
    const e3 = live("a", { unread: 2, action: "history" });
    push({ events: [e1, e2, e3], dropped: 5 });
    await vi.waitFor(() => expect(badge("a")).toBe("2"));
    expect(q(root, "unread-total")!.textContent).toBe("4 unread events");

    // Opening a reads it; the daemon's status says so, and a stale event in the same batch
    // (counted before the mark) does not bring the count back.
    root.querySelector<HTMLElement>('[data-testid="subscription-row"][data-id="a"] .sub-open')!.click();
    await vi.waitFor(() => expect(api.markRead).toHaveBeenCalledWith(["a"]));
    push({ statuses: [status("a", { ready_state: "OPEN", unread: 0, last_row: e3.row })], events: [live("a", { row: e2.row, unread: 2 })] });
    await vi.waitFor(() => expect(badge("a")).toBeNull());
    expect(q(root, "unread-total")!.textContent).toBe("2 unread events");

    q<HTMLButtonElement>(root, "mark-all-read")!.click();
    await vi.waitFor(() => expect(api.markRead).toHaveBeenCalledWith(null));
    push({ statuses: [status("b", { ready_state: "OPEN", unread: 0, last_row: 1 })] });
    await vi.waitFor(() => expect(q(root, "unread-total")!.closest<HTMLElement>(".unread-total")!.hidden).toBe(true));
    expect(badge("b")).toBeNull();
  });

  it("keeps the subscription list virtual with 10,000 subscriptions, filterable, each update cheap", async () => {
    const views = Array.from({ length: 10_000 }, (_, i) => ({ spec: { id: `s${i}`, url: `http://x/${i}` }, status: status(`s${i}`) }));
    const { root, push } = await boot({ views });
    const rows = () => root.querySelectorAll('[data-testid="subscription-row"]');
    expect(rows().length).toBeGreaterThan(3);
    expect(rows().length).toBeLessThan(40);
    expect(root.querySelector("#status")?.textContent).toContain("10,000 subscriptions");
    // One status of a row in view changes: the row shows it, at the cost of the window.
    const t0 = performance.now();
    push({ statuses: [status("s1", { ready_state: "OPEN", reason: "HTTP 200 OK" })] });
    const took = performance.now() - t0;
    const s1 = root.querySelector('[data-testid="subscription-row"][data-id="s1"]')!;
    expect(q(s1, "ready-state")?.textContent).toBe("OPEN");
    expect(took).toBeLessThan(200);
    // Scrolled to the end, the last one is there.
    const scroller = q<HTMLElement>(root, "subscription-list")!;
    scroller.scrollTop = 92 * 10_000;
    scroller.dispatchEvent(new Event("scroll"));
    await vi.waitFor(() => expect(root.querySelector('[data-testid="subscription-row"][data-id="s9999"]')).not.toBeNull());
    expect(rows().length).toBeLessThan(40);
    // The filter narrows it to what matches; clearing it brings all back.
    const filter = q<HTMLInputElement>(root, "subscription-filter")!;
    filter.value = "S9998";
    filter.dispatchEvent(new Event("input"));
    expect([...rows()].map((r) => r.getAttribute("data-id"))).toEqual(["s9998"]);
    expect(q(root, "subscription-count")?.textContent).toBe("1 of 10000 match");
    q<HTMLElement>(root, "subscription-row")!.click();
    expect(q(root, "subscription-detail")?.getAttribute("data-id")).toBe("s9998");
    filter.value = "";
    filter.dispatchEvent(new Event("input"));
    expect(rows().length).toBeGreaterThan(3);
  });

  it("patches the list after an edit instead of fetching it whole", async () => {
    const { root, api } = await boot({ views: [{ spec: { id: "a", url: "http://x" }, status: status("a") }] });
    const listChanges = api.listChanges as ReturnType<typeof vi.fn>;
    expect(listChanges).toHaveBeenLastCalledWith(null);
    q<HTMLButtonElement>(root, "row-pause")!.click();
    await vi.waitFor(() => expect(api.setPaused).toHaveBeenCalledWith("a", true));
    await vi.waitFor(() => expect(listChanges.mock.calls.length).toBeGreaterThan(1));
    // Asked for what changed since the answer it holds.
    expect(listChanges.mock.calls[listChanges.mock.calls.length - 1]![0]).toBe(listChanges.mock.calls.length - 1);
  });

  it("leaves no hole when a batch dropped events: pages history until it meets what it holds", async () => {
    const rows = Array.from({ length: 1200 }, (_, i) => i + 1);
    const stored = (row: number) => ({ row, subscription: "a", type: "message", data: `event ${row}`, id: null, last_event_id: String(row), received_at: row, action: "notified" as const });
    const { root, push, api } = await boot({ views: [{ spec: { id: "a", url: "http://x" }, status: status("a", { ready_state: "OPEN" }) }] });
    (api.historyPage as ReturnType<typeof vi.fn>).mockImplementation(async ({ beforeRow, limit }: { beforeRow?: number; limit: number }) =>
      rows.filter((r) => beforeRow === undefined || r < beforeRow).reverse().slice(0, limit).map(stored));
    const count = () => ({ count: rows.length, last_received_at: rows.length, retired: 0, oldest_row: 1, unmerged: 0 });
    (api.historyStats as ReturnType<typeof vi.fn>).mockImplementation(async () => count());
    root.querySelector<HTMLElement>('[data-testid="subscription-row"][data-id="a"] .sub-open')!.click();
    // The newest page: rows 701..1200.
    await vi.waitFor(() => expect(q(root, "list-note")?.textContent).toContain("500 messages of 1,200 in history"));
    // A batch left out 1201..1800 (more than a page) and carried 1801.
    for (let r = 1201; r <= 1801; r++) rows.push(r);
    push({ events: [{ subscription: "a", row: 1801, type: "message", data: "event 1801", last_event_id: "1801", action: "notified", received_at: 1801, unread: 0 }], dropped: 600 });
    // Read again from history: every row, no hole (the newest page alone would leave
    // 1201..1301 out, and live rows held before could hide holes of their own).
    await vi.waitFor(() => expect(q(root, "list-note")?.textContent).toBe("1,801 messages"));
    expect(q(root, "detail-count")?.textContent).toBe(" · 1,801 events in history");
    const first = root.querySelector('[data-testid="event-row"] [data-testid="event-data"]');
    expect(first?.textContent).toBe("event 1801");
  });

  it("says how many older events retention removed at the end of the list", async () => {
    const { root, api } = await boot({ views: [{ spec: { id: "a", url: "http://x" }, status: status("a", { ready_state: "OPEN" }) }] });
    (api.historyPage as ReturnType<typeof vi.fn>).mockImplementation(async () =>
      [3, 2, 1].map((row) => ({ row, subscription: "a", type: "message", data: `event ${row}`, id: null, last_event_id: "", received_at: row, action: "notified" as const })));
    (api.historyStats as ReturnType<typeof vi.fn>).mockImplementation(async () => ({ count: 3, last_received_at: 3, retired: 1, oldest_row: 1, unmerged: 0 }));
    root.querySelector<HTMLElement>('[data-testid="subscription-row"][data-id="a"] .sub-open')!.click();
    await vi.waitFor(() => expect(q(root, "list-note")?.textContent).toBe("3 messages · 1 older event removed by retention"));
  });

  it("asks for the count again once history has trimmed the last events", async () => {
    const { root, push, api } = await boot({ views: [{ spec: { id: "a", url: "http://x" }, status: status("a", { ready_state: "OPEN" }) }] });
    let stats = { count: 4, last_received_at: 4, retired: 0, oldest_row: 1, unmerged: 0 };
    (api.historyStats as ReturnType<typeof vi.fn>).mockImplementation(async () => stats);
    root.querySelector<HTMLElement>('[data-testid="subscription-row"][data-id="a"] .sub-open')!.click();
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    try {
      push({ events: [live("a", { row: 5, data: "five" })] });
      await vi.waitFor(() => expect((api.historyStats as ReturnType<typeof vi.fn>).mock.calls.length).toBeGreaterThanOrEqual(2));
      const asked = (api.historyStats as ReturnType<typeof vi.fn>).mock.calls.length;
      // History merges the row and trims the oldest: no event says so.
      stats = { count: 3, last_received_at: 5, retired: 2, oldest_row: 3, unmerged: 0 };
      await vi.advanceTimersByTimeAsync(HISTORY_SETTLE_MS);
      expect((api.historyStats as ReturnType<typeof vi.fn>).mock.calls.length).toBe(asked + 1);
    } finally {
      vi.useRealTimers();
    }
    await vi.waitFor(() => expect(q(root, "list-note")?.textContent).toContain("removed by retention"));
  });

  it("asks again for as long as history holds rows retention has yet to act on", async () => {
    const { root, push, api } = await boot({ views: [{ spec: { id: "a", url: "http://x" }, status: status("a", { ready_state: "OPEN" }) }] });
    const asks = () => (api.historyStats as ReturnType<typeof vi.fn>).mock.calls.length;
    // A busy machine: the merge comes after the first settle, with no event after it.
    let stats = { count: 5, last_received_at: 5, retired: 0, oldest_row: 1, unmerged: 4 };
    (api.historyStats as ReturnType<typeof vi.fn>).mockImplementation(async () => stats);
    root.querySelector<HTMLElement>('[data-testid="subscription-row"][data-id="a"] .sub-open')!.click();
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    try {
      push({ events: [live("a", { row: 5, data: "five" })] });
      await vi.waitFor(() => expect(asks()).toBeGreaterThanOrEqual(2));
      for (let settle = 0; settle < 3; settle++) {
        const asked = asks();
        await vi.advanceTimersByTimeAsync(HISTORY_SETTLE_MS);
        expect(asks()).toBe(asked + 1);
      }
      stats = { count: 1, last_received_at: 5, retired: 4, oldest_row: 5, unmerged: 0 };
      await vi.advanceTimersByTimeAsync(HISTORY_SETTLE_MS);
      const settled = asks();
      // Settled: no more asking without a new event.
      await vi.advanceTimersByTimeAsync(HISTORY_SETTLE_MS * 4);
      expect(asks()).toBe(settled);
    } finally {
      vi.useRealTimers();
    }
    await vi.waitFor(() => expect(q(root, "list-note")?.textContent).toBe("1 message · 4 older events removed by retention"));
  });

  it("searches a subscription's messages by text, type and what the router did", async () => {
    const { root, push } = await boot({ views: [{ spec: { id: "a", url: "http://x" }, status: status("a", { ready_state: "OPEN" }) }] });
    root.querySelector<HTMLElement>('[data-testid="subscription-row"][data-id="a"] .sub-open')!.click();
    push({ events: [live("a", { data: "disk full on db1" }), live("a", { type: "deploy", data: "v2" }), live("a", { data: "quiet", action: "dropped" })] });
    const search = q<HTMLInputElement>(root, "message-search")!;
    const shown = () => [...root.querySelectorAll('[data-testid="event-row"] [data-testid="event-data"]')].map((e) => e.textContent);
    for (const [text, want] of [["DISK", ["disk full on db1"]], ["deploy", ["v2"]], ["dropped", ["quiet"]], ["", ["quiet", "v2", "disk full on db1"]]] as const) {
      search.value = text;
      search.dispatchEvent(new Event("input"));
      expect(shown()).toEqual(want);
    }
    search.value = "nothing like it";
    search.dispatchEvent(new Event("input"));
    expect(q(root, "list-note")?.textContent).toContain("0 matches in 3 messages");
  });

  it("counts down to the next try while CONNECTING, and shows the daemon's timeline after a reload", async () => {
    const timeline = [
      { at: 1000, state: "CONNECTING" as const, reason: "started" },
      { at: 2000, state: "OPEN" as const, reason: "HTTP 200 OK", status: 200 },
      { at: 3000, state: "CONNECTING" as const, reason: "network error: connection reset" },
    ];
    const { root, push } = await boot({
      views: [{ spec: { id: "a", url: "http://x" }, status: status("a", { since: Date.now(), retry_in_ms: 5000, reason: "network error: connection reset", timeline }) }],
    });
    root.querySelector<HTMLElement>('[data-testid="subscription-row"][data-id="a"] .sub-open')!.click();
    expect(q(root, "detail-retry-in")?.textContent).toMatch(/^ · next try in [45] s$/);
    const entries = [...root.querySelectorAll('[data-testid="state-timeline"] li')].map((li) => li.textContent);
    expect(entries).toHaveLength(3);
    expect(entries[0]).toContain("network error: connection reset");
    expect(entries[2]).toContain("started");
    // The wait is over: it says so rather than counting below zero.
    push({ statuses: [status("a", { since: Date.now() - 10_000, retry_in_ms: 3000, reason: "network error: connection reset" })] });
    expect(q(root, "detail-retry-in")?.textContent).toBe(" · trying now");
    push({ statuses: [status("a", { ready_state: "OPEN", reason: "HTTP 200 OK" })] });
    expect(q(root, "detail-retry-in")?.textContent).toBe("");
  });

  it("shows when notifications are held and toggles do not disturb", async () => {
    const until = new Date(2026, 11, 7, 7, 0).getTime();
    const fake = fakeApi();
    let state: { kind: "quiet_hours" | "do_not_disturb"; until?: number } | null = { kind: "quiet_hours", until };
    (fake.api.quietState as ReturnType<typeof vi.fn>).mockImplementation(async () => state);
    (fake.api.setDoNotDisturb as ReturnType<typeof vi.fn>).mockImplementation(async (on: boolean) => {
      state = on ? { kind: "do_not_disturb" } : null;
    });
    const root = document.createElement("div");
    document.body.replaceChildren(root);
    await start(root, fake.api);
    const note = q(root, "quiet-indicator")!;
    const box = note.closest<HTMLElement>(".quiet-note")!;
    expect(box.hidden).toBe(false);
    expect(note.textContent).toMatch(/^Quiet hours until 0?7:00( AM)?: notifications are held$/);
    // Quiet hours can be lifted in one click; the daemon says they no longer hold.
    const anyway = q<HTMLButtonElement>(root, "show-anyway")!;
    expect(anyway.hidden).toBe(false);
    (fake.api.showAnyway as ReturnType<typeof vi.fn>).mockImplementationOnce(async () => {
      state = null;
    });
    anyway.click();
    await vi.waitFor(() => expect(box.hidden).toBe(true));
    expect(fake.api.showAnyway).toHaveBeenCalledOnce();
    state = { kind: "quiet_hours", until };
    const dnd = q<HTMLButtonElement>(root, "dnd-toggle")!;
    expect(dnd.getAttribute("aria-pressed")).toBe("false");
    dnd.click();
    await vi.waitFor(() => expect(dnd.getAttribute("aria-pressed")).toBe("true"));
    expect(fake.api.setDoNotDisturb).toHaveBeenLastCalledWith(true);
    expect(note.textContent).toBe("Do not disturb: notifications are held (critical ones show)");
    expect(anyway.hidden, "do not disturb has its own switch").toBe(true);
    dnd.click();
    await vi.waitFor(() => expect(box.hidden).toBe(true));
    expect(fake.api.setDoNotDisturb).toHaveBeenLastCalledWith(false);
  });

  it("says in the header which subscriptions are muted, and until when", async () => {
    const soon = new Date(Date.now() + 3_600_000).toISOString();
    const past = new Date(Date.now() - 60_000).toISOString();
    const { root } = await boot({
      views: [
        { spec: { id: "ci", name: "CI", url: "http://x/ci", mute_until: soon }, status: status("ci", { name: "CI" }) },
        { spec: { id: "old", url: "http://x/old", mute_until: past }, status: status("old") },
        { spec: { id: "b", url: "http://x/b" }, status: status("b") },
      ],
    });
    const note = q(root, "mute-indicator")!;
    expect(note.hidden).toBe(false);
    expect(note.textContent).toMatch(/^CI muted until \d{1,2}:\d{2}/);
  });

  it("closes a form with Escape, and in a narrow window shows one pane with a way back", async () => {
    const { root } = await boot({ views: [{ spec: { id: "a", url: "http://x" }, status: status("a") }] });
    const layout = root.querySelector(".layout")!;
    expect(layout.classList.contains("pane-open")).toBe(false);
    q<HTMLButtonElement>(root, "row-edit")!.click();
    expect(layout.classList.contains("pane-open")).toBe(true);
    q(root, "form-url")!.dispatchEvent(new KeyboardEvent("keydown", { key: "Escape", bubbles: true }));
    expect(q(root, "subscription-form")).toBeNull();
    expect(q(root, "subscription-detail")?.getAttribute("data-id")).toBe("a");
    q<HTMLButtonElement>(root, "back")!.click();
    expect(layout.classList.contains("pane-open")).toBe(false);
    q<HTMLButtonElement>(root, "open-settings")!.click();
    await vi.waitFor(() => expect(layout.classList.contains("pane-open")).toBe(true));
    root.dispatchEvent(new KeyboardEvent("keydown", { key: "Escape", bubbles: true }));
    expect(layout.classList.contains("pane-open")).toBe(false);
  });

  it("shows the empty state, not an empty list, in a narrow window with no subscriptions", async () => {
    const { root } = await boot();
    expect(root.querySelector(".layout")!.classList.contains("pane-open")).toBe(true);
    expect(root.querySelector("#empty-state")).not.toBeNull();
    expect(q(root, "back")).toBeNull();
  });

  it("pretty-prints JSON in the inspector, text as it came", async () => {
    const { root, push } = await boot({ views: [{ spec: { id: "a", url: "http://x" }, status: status("a", { ready_state: "OPEN" }) }] });
    root.querySelector<HTMLElement>('[data-testid="subscription-row"][data-id="a"] .sub-open')!.click();
    push({ events: [live("a", { data: '{"title":"<b>x</b>","n":1}' })] });
    root.querySelector<HTMLElement>('[data-testid="event-row"]')!.click();
    expect(q(root, "inspector-data")?.textContent).toBe('{\n  "title": "<b>x</b>",\n  "n": 1\n}');
    expect(root.querySelector(".inspector b")).toBeNull();
    expect(q(root, "inspector-copy")).not.toBeNull();
  });

  it("shows which rule matched and the notification it made, and filters by urgency", async () => {
    const { root, push, api } = await boot({
      views: [{ spec: { id: "a", url: "http://x", rules: [{ event: "page", urgency: "critical" }, { event: "*" }] }, status: status("a", { ready_state: "OPEN" }) }],
    });
    (api.historyStats as ReturnType<typeof vi.fn>).mockImplementation(async () => ({ count: 3, last_received_at: null, retired: 0, oldest_row: 1, unmerged: 0 }));
    root.querySelector<HTMLElement>('[data-testid="subscription-row"][data-id="a"] .sub-open')!.click();
    push({
      events: [
        live("a", { type: "page", data: "db down", rule: 0, shown: { title: "A · page", body: "db &lt;1&gt; down", urgency: "critical" } }),
        live("a", { data: "hello", rule: 1, shown: { title: "A", body: "hello", urgency: "normal" } }),
        live("a", { data: "kept", action: "history" }),
      ],
    });
    await vi.waitFor(() => expect(root.querySelectorAll('[data-testid="event-row"]').length).toBe(3));
    const pick = (data: string) =>
      [...root.querySelectorAll<HTMLElement>('[data-testid="event-row"]')].find((r) => r.textContent?.includes(data))!.click();
    pick("db down");
    expect(q(root, "inspector-rule")?.textContent).toBe("rule 1 (event page)");
    expect(q(root, "inspector-notification")?.textContent).toBe("A · page — db <1> down (critical)");
    pick("kept");
    expect(q(root, "inspector-rule")?.textContent).toBe("no rule (the defaults)");
    expect(q(root, "inspector-notification")).toBeNull();
    const filter = q<HTMLSelectElement>(root, "urgency-filter")!;
    filter.value = "critical";
    filter.dispatchEvent(new Event("change"));
    await vi.waitFor(() => expect(root.querySelectorAll('[data-testid="event-row"]').length).toBe(1));
    expect(q(root, "list-note")?.textContent).toContain("1 match in 3 messages");
    filter.value = "";
    filter.dispatchEvent(new Event("change"));
    await vi.waitFor(() => expect(root.querySelectorAll('[data-testid="event-row"]').length).toBe(3));
  });
});
