// The add/edit form: connection, headers, auth, reconnect settings, rules (with the rule
// tester). Reads its inputs into a FormState on demand; the conversion is in form.ts.
import type { CommandError, RouteReport, SubscriptionSpec } from "../api";
import { el, replace } from "../dom";
import {
  emptyForm,
  emptyRule,
  errorsByField,
  formToSpec,
  knownFields,
  specToForm,
  type FieldErrors,
  type FormState,
  type RuleForm,
} from "../form";
import { decisionView } from "../report";
import { button, field, input, showErrors } from "./common";

export interface FormActions {
  /** Saves; resolves to null on success or the engine's error. */
  save(spec: SubscriptionSpec, editing: string | null): Promise<CommandError | null>;
  /** Checks without saving (as the user types); resolves to null or the engine's error. */
  check(spec: SubscriptionSpec, isNew: boolean): Promise<CommandError | null>;
  testRules(spec: SubscriptionSpec, transcript: string): Promise<RouteReport>;
  /** The subscription's recent messages as a stream sample (oldest first); absent for a
   * subscription not saved yet. */
  recentTranscript?(): Promise<string>;
  cancel(): void;
}

/** How long after the last key the form checks what was typed. */
const LIVE_CHECK_MS = 350;

const SAMPLE = `event: deploy
id: 1
data: {"service":"api","status":"failed"}

data: hello <b>world</b>
`;

export function formView(
  base: SubscriptionSpec | null,
  actions: FormActions,
): HTMLElement {
  const state: FormState = base ? specToForm(base) : emptyForm();
  const editing = base?.id ?? null;

  const f = {
    url: input({ type: "url", "data-testid": "form-url", required: true, placeholder: "https://example.com/events", value: state.url }),
    id: input({ "data-testid": "form-id", value: state.id, placeholder: "from the URL", readonly: editing !== null }),
    name: input({ "data-testid": "form-name", value: state.name, placeholder: "the id" }),
    paused: el("input", { type: "checkbox", "data-testid": "form-paused", checked: state.paused }),
    authType: el("select", { "data-testid": "form-auth-type" }, [
      el("option", { value: "" }, ["none"]),
      el("option", { value: "basic" }, ["basic (username + password)"]),
      el("option", { value: "bearer" }, ["bearer token"]),
    ]),
    username: input({ "data-testid": "form-auth-username", value: state.username, autocomplete: "off" }),
    secret: input({ "data-testid": "form-auth-secret", value: state.secret, placeholder: "env:NAME or file:PATH", autocomplete: "off" }),
    reconnect_time: input({ "data-testid": "form-reconnect_time", value: state.reconnect_time, placeholder: "3s" }),
    backoff_cap: input({ "data-testid": "form-backoff_cap", value: state.backoff_cap, placeholder: "1m" }),
    idle_timeout: input({ "data-testid": "form-idle_timeout", value: state.idle_timeout, placeholder: "2m" }),
    max_event_size: input({ "data-testid": "form-max_event_size", value: state.max_event_size, placeholder: "4194304", inputmode: "numeric" }),
    ca_file: input({ "data-testid": "form-ca_file", value: state.ca_file, placeholder: "~/certs/ca.pem" }),
    history_max_events: input({ "data-testid": "form-history-max-events", value: state.history_max_events, placeholder: "1000", inputmode: "numeric" }),
    history_max_age: input({ "data-testid": "form-history-max-age", value: state.history_max_age, placeholder: "30d" }),
  };
  f.authType.value = state.authType;

  let headers = state.headers.map((h) => ({ ...h }));
  let rules: RuleForm[] = state.rules.map((r) => ({ ...r }));
  const headersBox = el("div", { class: "rows", "data-testid": "form-headers" });
  const rulesBox = el("div", { class: "rules", "data-testid": "form-rules" });
  const authBox = el("div", { class: "auth-fields" });
  const formError = el("p", { class: "form-error", role: "alert", "data-testid": "form-error-form", "data-error-for": "form", hidden: true });

  function readHeaders() {
    headers = [...headersBox.querySelectorAll<HTMLElement>(".header-row")].map((row) => ({
      name: row.querySelector<HTMLInputElement>(".h-name")!.value,
      value: row.querySelector<HTMLInputElement>(".h-value")!.value,
    }));
  }
  function renderHeaders() {
    replace(headersBox, [
      ...headers.map((h, i) =>
        el("div", { class: "header-row", "data-row": `headers[${i}]` }, [
          input({ class: "h-name", value: h.name, "aria-label": `Header ${i + 1} name`, placeholder: "Name", "data-focus": `h-name-${i}` }),
          input({ class: "h-value", value: h.value, "aria-label": `Header ${i + 1} value`, placeholder: "value, env:NAME or file:PATH", "data-focus": `h-value-${i}` }),
          button("Remove", () => {
            readHeaders();
            headers.splice(i, 1);
            renderHeaders();
          }, { "aria-label": `Remove header ${i + 1}` }),
          // On its row: a header's error names no other.
          el("span", { class: "field-error row-error", "data-error-for": `headers[${i}]`, "data-testid": `form-error-headers-${i}`, role: "alert", hidden: true }),
        ]),
      ),
      button("Add header", () => {
        readHeaders();
        headers.push({ name: "", value: "" });
        renderHeaders();
        headersBox.querySelector<HTMLInputElement>(`[data-focus="h-name-${headers.length - 1}"]`)?.focus();
      }, { "data-testid": "form-add-header" }),
    ]);
  }

  function renderAuth() {
    const type = f.authType.value;
    replace(authBox, [
      type === "basic" ? field("Username", f.username, "auth.username") : null,
      type
        ? field(type === "basic" ? "Password" : "Token", f.secret, "auth.secret", "A reference: env:NAME or file:PATH. A secret typed in clear is moved to a protected file (mode 0600) when the subscription is added.")
        : null,
    ]);
  }
  f.authType.addEventListener("change", renderAuth);

  function readRules() {
    rules = [...rulesBox.querySelectorAll<HTMLElement>(".rule")].map((box, i) => {
      const v = (k: string) =>
        box.querySelector<HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement>(`[data-k="${k}"]`)!.value;
      return {
        event: v("event"),
        when: v("when"),
        action: v("action"),
        title: v("title"),
        body: v("body"),
        urgency: v("urgency"),
        click_url: v("click_url"),
        replace_key: v("replace_key"),
        extra: rules[i]?.extra ?? {},
      };
    });
  }

  function renderRules() {
    const ruleBox = (r: RuleForm, i: number) => {
      const k = (key: string, ctl: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement) => {
        ctl.setAttribute("data-k", key);
        ctl.setAttribute("data-testid", `rule-${i}-${key}`);
        return ctl;
      };
      const select = (key: string, value: string, options: string[]) => {
        const s = el("select", {}, options.map((o) => el("option", { value: o }, [o || "(default)"])));
        s.value = value;
        return k(key, s);
      };
      const extraKeys = Object.keys(r.extra);
      return el("fieldset", { class: "rule", "data-testid": `rule-${i}` }, [
        el("legend", {}, [`Rule ${i}`]),
        el("div", { class: "grid2" }, [
          field("Event type (glob)", k("event", input({ value: r.event, placeholder: "message" })), `rules[${i}].event`),
          field("Action", select("action", r.action, ["notify", "history", "drop", "command"]), `rules[${i}].action`),
          field("Title template", k("title", input({ value: r.title, placeholder: "{{ json.title }}" })), `rules[${i}].title`),
          field("Urgency", select("urgency", r.urgency, ["", "low", "normal", "critical"]), `rules[${i}].urgency`),
        ]),
        field("Body template", k("body", el("textarea", { rows: 2, placeholder: "the event data" }, [r.body])), `rules[${i}].body`),
        el("div", { class: "grid2" }, [
          field("Click URL template", k("click_url", input({ value: r.click_url, placeholder: "{{ json.url }}" })), `rules[${i}].click_url`),
          field("Replace key template", k("replace_key", input({ value: r.replace_key })), `rules[${i}].replace_key`),
        ]),
        field(
          "When (JSON conditions)",
          k("when", el("textarea", { rows: 2, class: "mono", placeholder: '[{"pointer": "/status", "equals": "failed"}]' }, [r.when])),
          `rules[${i}].when`,
          "All must hold. Keys: pointer, equals, exists, regex, contains, gt, ge, lt, le, not.",
        ),
        extraKeys.length ? el("p", { class: "muted" }, [`Also kept: ${extraKeys.join(", ")}`]) : null,
        el("span", { class: "field-error", "data-error-for": `rules[${i}]`, "data-testid": `form-error-rules-${i}`, role: "alert", hidden: true }),
        el("div", { class: "actions" }, [
          button("Move up", () => move(i, -1), { disabled: i === 0 }),
          button("Move down", () => move(i, 1), { disabled: i === rules.length - 1 }),
          button("Remove rule", () => {
            readRules();
            rules.splice(i, 1);
            renderRules();
          }),
        ]),
      ]);
    };
    replace(rulesBox, [
      rules.length === 0
        ? el("p", { class: "muted" }, ["No rules: every event notifies (keep-alives and pings excepted), titled with the subscription's name, using a JSON body's title and message when it has them."])
        : null,
      ...rules.map(ruleBox),
      el("span", { class: "field-error", "data-error-for": "rules", "data-testid": "form-error-rules", role: "alert", hidden: true }),
      button("Add rule", () => {
        readRules();
        rules.push(emptyRule());
        renderRules();
      }, { "data-testid": "form-add-rule" }),
    ]);
  }
  function move(i: number, d: number) {
    readRules();
    const [r] = rules.splice(i, 1);
    if (r) rules.splice(i + d, 0, r);
    renderRules();
  }

  function read(): FormState {
    readHeaders();
    readRules();
    return {
      id: f.id.value,
      name: f.name.value,
      url: f.url.value,
      headers,
      authType: f.authType.value as FormState["authType"],
      username: f.username.value,
      secret: f.secret.value,
      reconnect_time: f.reconnect_time.value,
      backoff_cap: f.backoff_cap.value,
      idle_timeout: f.idle_timeout.value,
      max_event_size: f.max_event_size.value,
      ca_file: f.ca_file.value,
      history_max_events: f.history_max_events.value,
      history_max_age: f.history_max_age.value,
      paused: f.paused.checked,
      rules,
    };
  }

  /** Where an error about `key` shows: the engine's `headers.<name>` on that header's row. */
  function slotOf(key: string): string {
    // The auth inputs carry their own slots; engine errors about `auth` go to the secret.
    if (key === "auth") return form.querySelector('[data-error-for="auth.secret"]') ? "auth.secret" : "form";
    if (key.startsWith("headers.")) {
      const name = key.slice("headers.".length).toLowerCase();
      const row = headers.findIndex((h) => h.name.trim().toLowerCase() === name);
      return row >= 0 ? `headers[${row}]` : "headers";
    }
    return key;
  }

  /**
   * Shows `errors` next to their fields (all of them on submit; while typing, `only` those
   * of the fields touched, and without moving the focus).
   */
  function show(errors: FieldErrors, only?: Set<string>) {
    for (const c of form.querySelectorAll("[aria-invalid]")) c.removeAttribute("aria-invalid");
    const mapped: FieldErrors = {};
    for (const [k, v] of Object.entries(errors)) {
      const key = slotOf(k);
      if (only && !only.has(key)) continue;
      (mapped[key] ??= []).push(...v);
    }
    const rest = showErrors(form, mapped);
    formError.textContent = rest.join("\n");
    formError.hidden = rest.length === 0;
    if (!only) form.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus();
  }

  // As you type: the fields touched so far are checked (here, then by the engine, which
  // knows every rule the file has) a moment after the last key, each error next to its field.
  const touched = new Set<string>();
  let checkTimer: ReturnType<typeof setTimeout> | undefined;
  let checks = 0;
  function touchedKey(target: EventTarget | null): string | null {
    const t = target as HTMLElement | null;
    const row = t?.closest<HTMLElement>("[data-row]");
    if (row) return row.dataset.row ?? null;
    return t?.closest(".field")?.querySelector<HTMLElement>("[data-error-for]")?.dataset.errorFor ?? null;
  }
  async function checkLive() {
    const mine = ++checks;
    const { spec, errors } = formToSpec(read(), base);
    // The engine checks the rest even while a field has an error found here: a bad
    // duration must not hide a bad URL. A field keeps the error found here.
    // Fields with an error here go to the engine unset: a value it cannot even read would
    // make it answer about that field alone.
    const rest: Record<string, unknown> = { ...spec };
    for (const field of Object.keys(errors)) if (field in rest && field !== "id" && field !== "url") delete rest[field];
    const err = await actions.check(rest as unknown as SubscriptionSpec, editing === null);
    if (mine !== checks || !form.isConnected) return;
    if (err) {
      const engine = errorsByField(err, knownFields(rules.length, headers.map((h) => h.name.trim())));
      for (const [field, messages] of Object.entries(engine)) if (!(field in errors)) errors[field] = messages;
    }
    show(errors, touched);
  }
  function onEdit(ev: Event) {
    const key = touchedKey(ev.target);
    if (!key) return;
    touched.add(key);
    clearTimeout(checkTimer);
    checkTimer = setTimeout(() => void checkLive(), LIVE_CHECK_MS);
  }

  const saveButton = el("button", { type: "submit", class: "primary", "data-testid": "form-submit" }, [editing ? "Save" : "Add subscription"]);
  const form = el("form", {
    class: "sub-form",
    "data-testid": "subscription-form",
    novalidate: true,
    "aria-label": editing ? `Edit ${editing}` : "Add a subscription",
  }, [
    el("h2", {}, [editing ? `Edit ${base?.name ?? editing}` : "Add a subscription"]),
    formError,
    el("fieldset", {}, [
      el("legend", {}, ["Stream"]),
      field("URL", f.url, "url", "An http(s) URL that answers with text/event-stream."),
      el("div", { class: "grid2" }, [
        field("Id", f.id, "id", editing ? "The id cannot change." : "Letters, digits, _ . - (optional)"),
        field("Name", f.name, "name"),
      ]),
      el("label", { class: "check" }, [f.paused, " Start paused"]),
    ]),
    el("fieldset", {}, [
      el("legend", {}, ["Headers"]),
      el("p", { class: "hint" }, [
        "Values may be references: env:NAME (an environment variable) or file:PATH (a file's content). ",
        "Secrets typed in clear (Authorization, tokens, keys) are moved to protected files under the config directory and replaced by file: references.",
      ]),
      headersBox,
      el("span", { class: "field-error", "data-error-for": "headers", "data-testid": "form-error-headers", role: "alert", hidden: true }),
    ]),
    el("fieldset", {}, [
      el("legend", {}, ["Authentication"]),
      field("Type", f.authType, "auth"),
      authBox,
    ]),
    el("details", {}, [
      el("summary", {}, ["Connection settings"]),
      el("div", { class: "grid2" }, [
        field("Reconnect time", f.reconnect_time, "reconnect_time", "Default 3s"),
        field("Backoff cap", f.backoff_cap, "backoff_cap", "Default 1m"),
        field("Idle timeout", f.idle_timeout, "idle_timeout", "Default 2m"),
        field("Max event size (bytes)", f.max_event_size, "max_event_size", "Default 4 MiB"),
        field("Extra CA file", f.ca_file, "ca_file"),
        field("History: max events", f.history_max_events, "history", "Default 1000"),
        field("History: max age", f.history_max_age, "history.max_age", "Default 30d"),
      ]),
    ]),
    el("fieldset", {}, [el("legend", {}, ["Rules (first match wins)"]), rulesBox]),
    testerView(() => formToSpec(read(), base), actions),
    el("div", { class: "actions sticky-actions" }, [
      saveButton,
      button("Cancel", () => actions.cancel(), { "data-testid": "form-cancel" }),
    ]),
  ]);

  form.addEventListener("input", onEdit);
  form.addEventListener("change", onEdit);
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    clearTimeout(checkTimer);
    checks++;
    const current = read();
    const { spec, errors } = formToSpec(current, base);
    if (Object.keys(errors).length) {
      show(errors);
      return;
    }
    saveButton.disabled = true;
    void actions.save(spec, editing).then((err) => {
      saveButton.disabled = false;
      if (err) show(errorsByField(err, knownFields(rules.length, headers.map((h) => h.name.trim()))));
    });
  });

  renderHeaders();
  renderAuth();
  renderRules();
  return form;
}

/** The rule tester: a sample transcript → test_rules → each event's decision. */
function testerView(
  currentSpec: () => { spec: SubscriptionSpec; errors: FieldErrors },
  actions: FormActions,
): HTMLElement {
  const transcript = el("textarea", { rows: 6, class: "mono", "data-testid": "tester-transcript", spellcheck: false }, [SAMPLE]);
  const out = el("div", { class: "tester-out", "data-testid": "tester-result", "aria-live": "polite" });
  const run = async () => {
    const { spec, errors } = currentSpec();
    // The tester needs only the rules; a missing URL or id does not matter here.
    const problems = Object.entries(errors)
      .filter(([k]) => k.startsWith("rules"))
      .flatMap(([, v]) => v);
    if (problems.length) {
      replace(out, [el("p", { class: "error-text" }, [problems.join("; ")])]);
      return;
    }
    if (!spec.id) spec.id = "test";
    if (!spec.url) spec.url = "http://localhost/";
    replace(out, [el("p", { class: "muted" }, ["Testing…"])]);
    try {
      const report = await actions.testRules(spec, transcript.value);
      replace(out, renderReport(report));
    } catch (err) {
      const e = err as CommandError;
      replace(out, [el("p", { class: "error-text", role: "alert" }, [e?.message ?? String(err)])]);
    }
  };
  const useRecent = async () => {
    try {
      const sample = await actions.recentTranscript!();
      if (!sample) {
        replace(out, [el("p", { class: "muted" }, ["No messages in history yet: paste a sample instead."])]);
        return;
      }
      transcript.value = sample;
      await run();
    } catch (err) {
      replace(out, [el("p", { class: "error-text", role: "alert" }, [(err as CommandError)?.message ?? String(err)])]);
    }
  };
  return el("details", { class: "tester" }, [
    el("summary", {}, ["Rule tester"]),
    el("p", { class: "hint" }, [
      "Paste a sample of the stream (as the server sends it: event:, id:, data: lines, a blank line after each event) and see what these rules would do. Nothing is shown or stored.",
    ]),
    field("Sample stream", transcript, "transcript"),
    el("div", { class: "actions" }, [
      button("Test rules", () => void run(), { "data-testid": "tester-run" }),
      actions.recentTranscript ? button("Use recent messages", () => void useRecent(), { "data-testid": "tester-recent" }) : null,
    ]),
    out,
  ]);
}

export function renderReport(report: RouteReport): HTMLElement[] {
  const items = report.events.map((r, i) => {
    const d = decisionView(r.decision);
    return el("li", { class: "tester-event", "data-testid": "tester-event" }, [
      el("div", { class: "tester-head" }, [
        el("strong", {}, [`#${i + 1} ${r.event.type}`]),
        " ",
        el("span", { class: "mono" }, [r.event.data.length > 120 ? `${r.event.data.slice(0, 120)}…` : r.event.data]),
      ]),
      el("div", { "data-testid": "tester-decision" }, [d.headline]),
      d.notification
        ? el("div", { class: `notif-preview urgency-${d.notification.urgency}`, "data-testid": "tester-notification" }, [
            el("div", { class: "notif-title", "data-testid": "tester-title" }, [d.notification.title]),
            el("div", { class: "notif-body", "data-testid": "tester-body" }, [d.notification.body]),
            el("div", { class: "muted" }, [
              d.notification.urgency,
              d.notification.clickUrl ? ` · opens ${d.notification.clickUrl}` : "",
            ]),
          ])
        : null,
      ...d.notes.map((n) => el("div", { class: "muted" }, [n])),
    ]);
  });
  const parts: (HTMLElement | null)[] = [
    el("ol", { class: "tester-list" }, items.length ? items : [el("li", { class: "muted" }, ["No events in the sample (each needs a blank line after it)."])]),
    report.summaries.length
      ? el("div", {}, [
          el("h4", {}, ["Summaries afterwards"]),
          ...report.summaries.map((n) => el("div", { class: "notif-preview" }, [el("div", { class: "notif-title" }, [n.title]), el("div", { class: "notif-body" }, [n.body])])),
        ])
      : null,
    report.stopped ? el("p", { class: "error-text" }, [`Stopped: ${report.stopped}`]) : null,
    report.unterminated
      ? el("p", { class: "error-text", "data-testid": "tester-unterminated" }, [
          "The sample ends inside an event: add a blank line after its last line, or it is not an event (a stream's end discards it too).",
        ])
      : null,
  ];
  return parts.filter((x): x is HTMLElement => x !== null);
}
