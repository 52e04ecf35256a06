// Import/export and settings panes.
import type { ImportFormat, ImportResult, NotificationSettings, Settings } from "../api";
import { el, replace } from "../dom";
import { diffChanges, diffLines, formToSettings, settingsToForm, trustConsent, trustLines, WEEKDAYS, type SettingsForm } from "../report";
import { button, copyText, field, input, section, showErrors } from "./common";

export interface ImportActions {
  importText(text: string, format: ImportFormat, replace: boolean, dryRun: boolean, trust: boolean): Promise<ImportResult>;
  exportText(format: "toml" | "json"): Promise<string>;
  /** Saves the export to a file picked in a dialog; resolves to its path, or null if cancelled. */
  exportFile(format: "toml" | "json"): Promise<string | null>;
  errorText(err: unknown): string;
}

export function importView(actions: ImportActions, openFiles: string[] = []): HTMLElement {
  const format = el("select", { "data-testid": "import-format" }, [
    el("option", { value: "toml" }, ["TOML (subscriptions file)"]),
    el("option", { value: "json" }, ["JSON (ssenotify export)"]),
    el("option", { value: "ntfy" }, ["ntfy client.yml"]),
  ]);
  const replaceBox = el("input", { type: "checkbox", "data-testid": "import-replace" });
  const text = el("textarea", { rows: 8, class: "mono", "data-testid": "import-text", spellcheck: false, placeholder: "Paste a subscriptions file here, or pick one below." });
  const file = el("input", { type: "file", accept: ".toml,.json,.yml,.yaml,.txt", "data-testid": "import-file" });
  const diff = el("div", { class: "diff", "data-testid": "diff-view", "aria-live": "polite" });
  const confirm = el("button", { type: "button", class: "primary", "data-testid": "import-confirm", disabled: true }, ["Import"]);
  let checked: string | null = null;
  // What the last dry run said needs trust; the import sends `trust` only once the box
  // naming all of it is ticked, and any edit of the input asks again.
  let needsTrust = false;
  let trustBox: HTMLInputElement | null = null;

  file.addEventListener("change", () => {
    const f = file.files?.[0];
    if (!f) return;
    if (/\.ya?ml$/i.test(f.name)) format.value = "ntfy";
    else if (/\.json$/i.test(f.name)) format.value = "json";
    else format.value = "toml";
    const reader = new FileReader();
    reader.onload = () => {
      text.value = String(reader.result ?? "");
      invalidate();
    };
    reader.onerror = () => replace(diff, [el("p", { class: "error-text", role: "alert" }, [`Cannot read ${f.name}`])]);
    reader.readAsText(f);
  });
  const key = () => `${format.value}\u0000${replaceBox.checked}\u0000${text.value}`;
  const invalidate = () => {
    if (checked !== key()) {
      confirm.disabled = true;
      if (trustBox) trustBox.disabled = true;
    }
  };
  text.addEventListener("input", invalidate);
  format.addEventListener("change", invalidate);
  replaceBox.addEventListener("change", invalidate);

  const dryRun = async () => {
    confirm.disabled = true;
    replace(diff, [el("p", { class: "muted" }, ["Checking…"])]);
    try {
      const k = key();
      const r = await actions.importText(text.value, format.value as ImportFormat, replaceBox.checked, true, false);
      const lines = diffLines(r);
      const trust = r.trust ?? [];
      needsTrust = trust.length > 0;
      trustBox = needsTrust ? el("input", { type: "checkbox", "data-testid": "import-trust" }) : null;
      trustBox?.addEventListener("change", () => {
        confirm.disabled = !trustBox?.checked;
      });
      replace(diff, [
        el("ul", { class: "diff-lines" }, lines.length
          ? lines.map((l) => el("li", { class: `diff-${l.kind}` }, [el("span", { class: "diff-sign" }, [l.sign]), " ", l.text]))
          : [el("li", { class: "muted" }, ["Nothing to import."])]),
        diffChanges(r) ? null : el("p", { class: "muted" }, ["No changes."]),
        trustBox
          ? el("div", { class: "notice notice-error", role: "alert", "data-testid": "import-trust-list" }, [
              el("p", {}, ["This input would run programs or read files and variables that your subscriptions do not use yet. Import it only if you trust where it came from:"]),
              el("ul", {}, trustLines(trust).map((line) => el("li", { class: "mono" }, [line]))),
              el("label", { class: "check" }, [trustBox, " ", trustConsent(trust)]),
            ])
          : null,
      ]);
      checked = k;
      confirm.disabled = !diffChanges(r) || needsTrust;
    } catch (err) {
      checked = null;
      replace(diff, [el("pre", { class: "error-text", role: "alert" }, [actions.errorText(err)])]);
    }
  };
  confirm.addEventListener("click", async () => {
    confirm.disabled = true;
    try {
      const trusted = needsTrust && trustBox?.checked === true;
      const r = await actions.importText(text.value, format.value as ImportFormat, replaceBox.checked, false, trusted);
      replace(diff, [el("p", { class: "ok-text", role: "status" }, [
        `Imported: ${r.added.length} added, ${r.changed.length} changed, ${r.removed.length} removed.`,
      ])]);
      checked = null;
      needsTrust = false;
      trustBox = null;
    } catch (err) {
      replace(diff, [el("pre", { class: "error-text", role: "alert" }, [actions.errorText(err)])]);
    }
  });

  const exportFormat = el("select", { "data-testid": "export-format" }, [
    el("option", { value: "toml" }, ["TOML"]),
    el("option", { value: "json" }, ["JSON"]),
  ]);
  const exportText = el("textarea", { rows: 8, class: "mono", readonly: true, "data-testid": "export-text", "aria-label": "Exported subscriptions" });
  const copyStatus = el("span", { class: "muted", role: "status", "data-testid": "export-status" });

  return el("div", { class: "tools", "data-testid": "import-view" }, [
    el("h2", {}, ["Import and export"]),
    openFiles.length
      ? el("div", { class: "notice notice-info", "data-testid": "open-files" }, [
          "Files passed to ssenotify: ",
          ...openFiles.map((p) => el("code", {}, [p, " "])),
          el("br"),
          "Pick the file below (or paste its content) to see what importing it would change.",
        ])
      : null,
    section("Import", [
      el("div", { class: "grid2" }, [
        field("Format", format, "format"),
        el("label", { class: "check" }, [replaceBox, " Replace: remove subscriptions not in the input"]),
      ]),
      field("Content", text, "text"),
      field("Or pick a file", file, "file"),
      el("div", { class: "actions" }, [
        button("Preview changes", () => void dryRun(), { "data-testid": "import-dry-run" }),
        confirm,
      ]),
      diff,
    ]),
    section("Export", [
      el("div", { class: "actions" }, [
        field("Format", exportFormat, "export-format"),
        button("Export", async () => {
          try {
            exportText.value = await actions.exportText(exportFormat.value as "toml" | "json");
            copyStatus.textContent = "";
          } catch (err) {
            copyStatus.textContent = actions.errorText(err);
          }
        }, { "data-testid": "export-run" }),
        button("Save to file…", async () => {
          try {
            const path = await actions.exportFile(exportFormat.value as "toml" | "json");
            copyStatus.textContent = path ? `Saved to ${path}.` : "";
          } catch (err) {
            copyStatus.textContent = actions.errorText(err);
          }
        }, { "data-testid": "export-save" }),
        button("Copy", async () => {
          copyStatus.textContent = (await copyText(exportText.value, exportText)) ? "Copied." : "Select the text and copy it.";
        }, { "data-testid": "export-copy" }),
        copyStatus,
      ]),
      exportText,
    ]),
  ]);
}

export interface SettingsActions {
  testNotification(): Promise<string>;
  save(args: { notifications: NotificationSettings; autostart: boolean }): Promise<string | null>;
  /** Stops the engine; resolves to an error text, or null once asked. */
  quit(): Promise<string | null>;
  /** The local event hub's bearer token. */
  hubToken(): Promise<string>;
}

/** The local event hub: where it serves, and its token copied (shown only when asked). */
function hubSection(hub: string | undefined, actions: SettingsActions): HTMLElement {
  if (!hub) {
    return section("Local event hub", [
      el("p", { class: "hint", "data-testid": "settings-hub" }, [
        "Off. To serve every event to your scripts, add [hub] listen = \"127.0.0.1:47412\" to the subscriptions file.",
      ]),
    ]);
  }
  const hubStatus = el("span", { role: "status", class: "muted", "data-testid": "settings-hub-status" });
  const shown = el("code", { "data-testid": "settings-hub-token" });
  const token = async (): Promise<string | null> => {
    try {
      return await actions.hubToken();
    } catch (err) {
      hubStatus.textContent = `No token: ${(err as { message?: string })?.message ?? String(err)}`;
      return null;
    }
  };
  return section("Local event hub", [
    el("p", {}, ["Serving every event at ", el("code", { "data-testid": "settings-hub" }, [hub])]),
    el("div", { class: "actions" }, [
      button("Copy token", async () => {
        const t = await token();
        if (t !== null) hubStatus.textContent = (await copyText(t)) ? "Token copied." : "Could not copy: use Show token.";
      }, { "data-testid": "settings-hub-copy" }),
      button("Show token", async () => {
        const t = await token();
        if (t !== null) shown.textContent = t;
      }, { "data-testid": "settings-hub-show" }),
      hubStatus,
    ]),
    shown,
  ]);
}

export function settingsView(settings: Settings, actions: SettingsActions): HTMLElement {
  const form: SettingsForm = settingsToForm(settings.notifications ?? {}, settings.autostart);
  const quietBox = el("div", { class: "quiet", "data-testid": "settings-quiet" });
  const rateMax = input({ value: form.rateMax, placeholder: "5", inputmode: "numeric", "data-testid": "settings-rate-max" });
  const ratePer = input({ value: form.ratePer, placeholder: "10s", "data-testid": "settings-rate-per" });
  const catchUp = input({ value: form.catchUp, placeholder: "3", inputmode: "numeric", "data-testid": "settings-catch-up" });
  const autostart = el("input", { type: "checkbox", checked: form.autostart, "data-testid": "settings-autostart" });
  const status = el("p", { role: "status", class: "muted", "data-testid": "settings-status" });
  const notifierStatus = el("span", { role: "status", class: "muted", "data-testid": "settings-notifier" });
  const quitStatus = el("span", { role: "status", class: "muted", "data-testid": "settings-quit-status" });

  const readQuiet = () => {
    form.quiet = [...quietBox.querySelectorAll<HTMLElement>(".quiet-row")].map((row) => ({
      days: [...row.querySelectorAll<HTMLInputElement>("input[data-day]")].filter((c) => c.checked).map((c) => c.dataset.day!),
      from: row.querySelector<HTMLInputElement>("[data-k=from]")!.value,
      to: row.querySelector<HTMLInputElement>("[data-k=to]")!.value,
    }));
  };
  const renderQuiet = () => {
    replace(quietBox, [
      ...form.quiet.map((q, i) =>
        el("fieldset", { class: "quiet-row" }, [
          el("legend", {}, [`Quiet period ${i + 1}`]),
          el("div", { class: "days" }, WEEKDAYS.map((d) =>
            el("label", { class: "check" }, [el("input", { type: "checkbox", "data-day": d, checked: q.days.includes(d) }), ` ${d}`]),
          )),
          el("small", { class: "hint" }, ["No day ticked means every day; a period belongs to the day it starts."]),
          el("div", { class: "grid2" }, [
            field("From", input({ type: "time", value: q.from, "data-k": "from" }), `quiet[${i}].from`),
            field("To", input({ type: "time", value: q.to, "data-k": "to" }), `quiet[${i}].to`),
          ]),
          button("Remove period", () => {
            readQuiet();
            form.quiet.splice(i, 1);
            renderQuiet();
          }),
        ]),
      ),
      button("Add quiet period", () => {
        readQuiet();
        form.quiet.push({ days: [], from: "22:00", to: "07:00" });
        renderQuiet();
      }, { "data-testid": "settings-add-quiet" }),
    ]);
  };
  renderQuiet();

  const root = el("form", { class: "tools", "data-testid": "settings-view", novalidate: true }, [
    el("h2", {}, ["Settings"]),
    section("Quiet hours", [
      el("p", { class: "hint" }, ["Notifications are held during quiet hours and summed up in one digest when they end; critical ones break through."]),
      quietBox,
    ]),
    section("Default rate limit", [
      el("p", { class: "hint" }, ["For subscriptions without their own: at most this many popups per window, the rest summed up."]),
      el("div", { class: "grid2" }, [
        field("Max popups", rateMax, "rate_max"),
        field("Per window", ratePer, "rate_per", "e.g. 10s, 1m"),
        field("Replayed events shown after a reconnect", catchUp, "catch_up"),
      ]),
    ]),
    section("History", [
      el("p", { class: "hint", "data-testid": "settings-history" }, [
        settings.history
          ? `Kept per subscription: ${settings.history.max_events ?? 1000} events, at most ${settings.history.max_age ?? "30d"} old. `
          : "Kept per subscription by default: 1000 events, at most 30 days old. ",
        "Change it for one subscription in its form (Connection settings).",
      ]),
    ]),
    hubSection(settings.hub, actions),
    section("Notifications", [
      el("div", { class: "actions" }, [
        button("Send a test notification", async () => {
          notifierStatus.textContent = "Sending…";
          notifierStatus.textContent = await actions.testNotification();
        }, { "data-testid": "settings-test-notification" }),
        notifierStatus,
      ]),
    ]),
    section("Startup", [el("label", { class: "check" }, [autostart, " Start ssenotify (hidden, in the tray) when I log in"])]),
    section("Quit", [
      el("p", { class: "muted" }, [
        "Closing this window keeps ssenotify running in the tray. Quit stops it: every subscription, the tray icon and this window.",
      ]),
      el("div", { class: "actions" }, [
        button("Quit ssenotify", async () => {
          quitStatus.textContent = "Stopping…";
          quitStatus.textContent = (await actions.quit()) ?? "Stopping…";
        }, { "data-testid": "settings-quit" }),
        quitStatus,
      ]),
    ]),
    el("div", { class: "actions" }, [el("button", { type: "submit", class: "primary", "data-testid": "settings-save" }, ["Save settings"]), status]),
  ]);
  root.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    readQuiet();
    form.rateMax = rateMax.value;
    form.ratePer = ratePer.value;
    form.catchUp = catchUp.value;
    const { notifications, errors } = formToSettings(form);
    const rest = showErrors(root, Object.fromEntries(Object.entries(errors).map(([k, v]) => [k, [v]])));
    if (Object.keys(errors).length) {
      status.textContent = rest.join("; ") || "Please fix the marked fields.";
      return;
    }
    status.textContent = "Saving…";
    const err = await actions.save({ notifications, autostart: autostart.checked });
    status.textContent = err ?? "Saved.";
  });
  return root;
}
