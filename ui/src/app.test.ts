import { describe, expect, it, vi } from "vitest";
import type { Api, Batch, SubscriptionView } from "./api";
import { start } from "./app";

const IMG = "<img src=x onerror=alert(1)>";
const SCRIPT = "<script>window.__pwned = true</script>";

function fakeApi(initialFiles: string[] = []) {
  let onStates: ((b: Batch<SubscriptionView>) => void) | undefined;
  let onOpenFiles: (() => void) | undefined;
  const files = [...initialFiles];
  const api: Api = {
    appInfo: vi.fn(async () => ({ version: "0.1.0", status: "engine not connected yet", config_dir: "/tmp/x" })),
    getSettings: vi.fn(async () => ({ autostart: false })),
    setAutostart: vi.fn(async (autostart: boolean) => ({ autostart })),
    onStates: vi.fn(async (handler) => {
      onStates = handler;
      return () => {};
    }),
    takeOpenFiles: vi.fn(async () => files.splice(0)),
    onOpenFiles: vi.fn(async (handler) => {
      onOpenFiles = handler;
      return () => {};
    }),
  };
  return {
    api,
    pushStates: (b: Batch<SubscriptionView>) => onStates?.(b),
    openFiles: (paths: string[]) => {
      files.push(...paths);
      onOpenFiles?.();
    },
  };
}

describe("the page", () => {
  it("shows the header and the empty state, and the demo button answers", async () => {
    const root = document.createElement("div");
    const { api } = fakeApi();
    await start(root, api);
    expect(root.querySelector("h1")?.textContent).toBe("ssenotify");
    expect(root.querySelector("#status")?.textContent).toBe("engine not connected yet");
    expect(root.querySelector("#empty-state h2")?.textContent).toBe("No subscriptions yet");

    root.querySelector<HTMLButtonElement>("#try-demo")!.click();
    await vi.waitFor(() => expect(root.querySelector("#notice")).not.toBeNull());
    expect(root.querySelector("#notice")?.textContent).toContain("demo feed");
  });

  it("renders hostile subscription data as literal text", async () => {
    const root = document.createElement("div");
    const { api, pushStates } = fakeApi();
    await start(root, api);
    pushStates({
      items: [
        { id: "a", name: IMG, url: `http://x/${SCRIPT}`, readyState: "OPEN", reason: SCRIPT },
      ],
      dropped: 0,
    });
    const row = root.querySelector("#subscriptions li");
    expect(row).not.toBeNull();
    expect(root.querySelector("#empty-state")).toBeNull();
    expect(row!.querySelector(".sub-name")?.textContent).toBe(IMG);
    expect(row!.querySelector(".sub-url")?.textContent).toBe(`http://x/${SCRIPT}`);
    expect(row!.querySelector(".sub-reason")?.textContent).toBe(SCRIPT);
    expect(root.querySelector("img, script")).toBeNull();
    expect((window as unknown as { __pwned?: boolean }).__pwned).toBeUndefined();
  });

  it("keeps the latest state per subscription", async () => {
    const root = document.createElement("div");
    const { api, pushStates } = fakeApi();
    await start(root, api);
    pushStates({ items: [{ id: "a", name: "A", url: "u", readyState: "CONNECTING" }], dropped: 0 });
    pushStates({ items: [{ id: "a", name: "A", url: "u", readyState: "OPEN" }], dropped: 0 });
    const badges = root.querySelectorAll("#subscriptions .badge");
    expect(badges).toHaveLength(1);
    expect(badges[0]?.textContent).toBe("OPEN");
  });

  it("shows files from the launch that created the window, and later ones, once", async () => {
    const root = document.createElement("div");
    const { api, openFiles } = fakeApi(["/a/subs.toml"]);
    await start(root, api);
    expect(root.querySelector("#notice")?.textContent).toBe("Open: /a/subs.toml");
    openFiles(["/b/<b>x</b>.toml"]);
    await vi.waitFor(() =>
      expect(root.querySelector("#notice")?.textContent).toBe("Open: /b/<b>x</b>.toml"),
    );
    expect(root.querySelector("#notice b")).toBeNull();
    expect(api.takeOpenFiles).toHaveBeenCalledTimes(2);
  });
});
