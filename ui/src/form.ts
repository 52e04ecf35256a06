// The add/edit form's state and its conversion to and from a SubscriptionSpec, plus the
// mapping of the engine's validation errors onto form fields. Pure: the view reads the
// inputs into a FormState and writes FormState back into inputs.
import type { AddInput, AuthSpec, CommandError, RuleSpec, StoredEvent, SubscriptionSpec } from "./api";

export interface RuleForm {
  event: string;
  /** The `when` list as JSON text (empty = no conditions). */
  when: string;
  action: string;
  title: string;
  body: string;
  urgency: string;
  click_url: string;
  replace_key: string;
  /** Other RuleSpec keys the form has no inputs for, kept as they were. */
  extra: Record<string, unknown>;
}

export interface FormState {
  id: string;
  name: string;
  url: string;
  headers: { name: string; value: string }[];
  authType: "" | "basic" | "bearer";
  username: string;
  /** Password (basic) or token (bearer): a reference, or a literal that the engine stashes. */
  secret: string;
  reconnect_time: string;
  backoff_cap: string;
  idle_timeout: string;
  max_event_size: string;
  ca_file: string;
  history_max_events: string;
  history_max_age: string;
  paused: boolean;
  rules: RuleForm[];
}

export function emptyRule(): RuleForm {
  return {
    event: "",
    when: "",
    action: "notify",
    title: "",
    body: "",
    urgency: "",
    click_url: "",
    replace_key: "",
    extra: {},
  };
}

export function emptyForm(): FormState {
  return {
    id: "",
    name: "",
    url: "",
    headers: [],
    authType: "",
    username: "",
    secret: "",
    reconnect_time: "",
    backoff_cap: "",
    idle_timeout: "",
    max_event_size: "",
    ca_file: "",
    history_max_events: "",
    history_max_age: "",
    paused: false,
    rules: [],
  };
}

const RULE_FIELDS = [
  "event",
  "when",
  "action",
  "title",
  "body",
  "urgency",
  "click_url",
  "replace_key",
] as const;

function ruleToForm(rule: RuleSpec): RuleForm {
  const extra: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(rule)) {
    if (!(RULE_FIELDS as readonly string[]).includes(k)) extra[k] = v;
  }
  return {
    event: rule.event ?? "",
    when: rule.when && rule.when.length ? JSON.stringify(rule.when, null, 1) : "",
    action: rule.action ?? "notify",
    title: rule.title ?? "",
    body: rule.body ?? "",
    urgency: rule.urgency ?? "",
    click_url: rule.click_url ?? "",
    replace_key: rule.replace_key ?? "",
    extra,
  };
}

/** A spec as form values (defaults left empty, so the engine's defaults apply). */
export function specToForm(spec: SubscriptionSpec): FormState {
  const auth = spec.auth;
  return {
    id: spec.id,
    name: spec.name ?? "",
    url: spec.url,
    headers: Object.entries(spec.headers ?? {}).map(([name, value]) => ({ name, value })),
    authType: auth?.type ?? "",
    username: auth?.type === "basic" ? auth.username : "",
    secret: auth?.type === "basic" ? auth.password : auth?.type === "bearer" ? auth.token : "",
    reconnect_time: spec.reconnect_time ?? "",
    backoff_cap: spec.backoff_cap ?? "",
    idle_timeout: spec.idle_timeout ?? "",
    max_event_size: spec.max_event_size !== undefined ? String(spec.max_event_size) : "",
    ca_file: spec.ca_file ?? "",
    history_max_events:
      spec.history?.max_events !== undefined ? String(spec.history.max_events) : "",
    history_max_age: spec.history?.max_age ?? "",
    paused: spec.paused ?? false,
    rules: (spec.rules ?? []).map(ruleToForm),
  };
}

/** Problems found before asking the engine: field name → messages. */
export type FieldErrors = Record<string, string[]>;

function addError(errors: FieldErrors, field: string, message: string) {
  (errors[field] ??= []).push(message);
}

/** A rule from its form, or an error message for `rules[i].when`. */
export function formToRule(rule: RuleForm, index: number, errors: FieldErrors): RuleSpec {
  const out: RuleSpec = { ...rule.extra };
  const t = (s: string) => s.trim();
  if (t(rule.event)) out.event = t(rule.event);
  if (t(rule.when)) {
    try {
      const parsed: unknown = JSON.parse(rule.when);
      const list = Array.isArray(parsed) ? parsed : [parsed];
      if (!list.every((c) => c && typeof c === "object" && !Array.isArray(c))) {
        throw new Error("expected a JSON object or a list of objects");
      }
      out.when = list as Record<string, unknown>[];
    } catch (e) {
      addError(
        errors,
        `rules[${index}].when`,
        `not valid JSON conditions: ${e instanceof Error ? e.message : String(e)}`,
      );
    }
  }
  if (rule.action && rule.action !== "notify") out.action = rule.action as RuleSpec["action"];
  if (rule.title !== "") out.title = rule.title;
  if (rule.body !== "") out.body = rule.body;
  if (rule.urgency) out.urgency = rule.urgency as RuleSpec["urgency"];
  if (t(rule.click_url)) out.click_url = t(rule.click_url);
  if (rule.replace_key !== "") out.replace_key = rule.replace_key;
  return out;
}

/**
 * The spec the form describes. `base` is the spec being edited: keys the form has no inputs
 * for (resume, rate_limit, mute_until, enabled...) are kept from it.
 */
export function formToSpec(
  form: FormState,
  base: SubscriptionSpec | null = null,
): { spec: SubscriptionSpec; errors: FieldErrors } {
  const errors: FieldErrors = {};
  const spec: SubscriptionSpec = { ...(base ?? {}), id: form.id.trim(), url: form.url.trim() };
  const setOrDelete = (key: keyof SubscriptionSpec & string, value: unknown) => {
    if (value === undefined || value === "") delete spec[key];
    else spec[key] = value;
  };
  if (!spec.url) addError(errors, "url", "the URL is required");
  setOrDelete("name", form.name.trim());
  const headers: Record<string, string> = {};
  for (const [i, h] of form.headers.entries()) {
    const name = h.name.trim();
    if (!name && !h.value) continue;
    if (!name) {
      addError(errors, `headers[${i}]`, "a header needs a name");
      continue;
    }
    if (Object.keys(headers).some((k) => k.toLowerCase() === name.toLowerCase())) {
      addError(errors, `headers[${i}]`, `header ${name} is given twice`);
    }
    headers[name] = h.value;
  }
  setOrDelete("headers", Object.keys(headers).length ? headers : undefined);
  let auth: AuthSpec | undefined;
  if (form.authType === "basic") {
    auth = { type: "basic", username: form.username, password: form.secret };
  } else if (form.authType === "bearer") {
    auth = { type: "bearer", token: form.secret };
  }
  setOrDelete("auth", auth);
  for (const key of ["reconnect_time", "backoff_cap", "idle_timeout", "ca_file"] as const) {
    const value = form[key].trim();
    if (key !== "ca_file" && value) {
      const problem = durationProblem(value);
      if (problem) addError(errors, key, problem);
    }
    setOrDelete(key, value);
  }
  const size = form.max_event_size.trim();
  if (size) {
    const n = Number(size);
    if (!Number.isInteger(n) || n < 1) addError(errors, "max_event_size", "a whole number of bytes, at least 1");
    spec.max_event_size = n;
  } else delete spec.max_event_size;
  const history: { max_events?: number; max_age?: string } = {};
  const maxEvents = form.history_max_events.trim();
  if (maxEvents) {
    const n = Number(maxEvents);
    if (!Number.isInteger(n) || n < 1) addError(errors, "history", "max events: a whole number, at least 1");
    history.max_events = n;
  }
  const maxAge = form.history_max_age.trim();
  if (maxAge) {
    const problem = durationProblem(maxAge);
    if (problem) addError(errors, "history.max_age", problem);
    history.max_age = maxAge;
  }
  setOrDelete("history", Object.keys(history).length ? history : undefined);
  if (form.paused) spec.paused = true;
  else delete spec.paused;
  const rules = form.rules.map((r, i) => formToRule(r, i, errors));
  setOrDelete("rules", rules.length ? rules : undefined);
  return { spec, errors };
}

/** What add_subscription takes, and whether the spec has more than it can carry. */
export function addInput(spec: SubscriptionSpec): { input: AddInput; needsUpdate: boolean } {
  const input: AddInput = { url: spec.url, headers: Object.entries(spec.headers ?? {}) };
  if (spec.id) input.id = spec.id;
  if (spec.name) input.name = spec.name;
  if (spec.paused) input.paused = true;
  const basic = new Set(["id", "name", "url", "headers", "paused"]);
  const needsUpdate = Object.keys(spec).some((k) => !basic.has(k) && spec[k] !== undefined);
  return { input, needsUpdate };
}

/**
 * The form field an engine error path belongs to: `rules[1].when[0].regex` → `rules[1].when`
 * if the form shows that, `headers.X-Api-Key` → `headers`, `auth.password` → `auth`,
 * `subscription "a": url: ...` messages → `url`.
 */
export function fieldOf(path: string | undefined, known: Set<string>): string {
  if (!path) return "form";
  let p = path.trim();
  // Drop a `subscriptions[0].` / `subscription "a".` prefix.
  p = p.replace(/^subscriptions?(\[\d+\]|\s*"[^"]*")?\.?/, "");
  if (!p) return "form";
  const parts: string[] = [];
  // Try the longest known prefix: rules[1].when[0].regex → rules[1].when, rules[1], rules.
  const segments = p.split(".");
  for (let i = segments.length; i > 0; i--) {
    const candidate = segments.slice(0, i).join(".");
    parts.push(candidate);
    const noIndex = candidate.replace(/\[\d+\]$/, "");
    if (known.has(candidate)) return candidate;
    if (known.has(noIndex)) return noIndex;
  }
  const top = (segments[0] ?? "").replace(/\[\d+\]$/, "");
  return known.has(top) ? top : "form";
}

/** Finds a field name in a message like `subscription "a": url: URL ...`. */
export function fieldFromMessage(message: string): string | undefined {
  const m = /^(?:[^:]*:\d+:\d+:\s*)?(?:subscription (?:"[^"]*"|#\d+):\s*)?([A-Za-z_][\w.[\]-]*):\s/.exec(message);
  return m?.[1];
}

/** The engine's CommandError as messages per form field (`form` for the rest). */
export function errorsByField(err: CommandError, known: Set<string>): FieldErrors {
  const out: FieldErrors = {};
  if (err.problems && err.problems.length) {
    for (const p of err.problems) {
      addError(out, fieldOf(p.field ?? fieldFromMessage(p.message), known), p.message);
    }
  } else {
    addError(out, fieldOf(err.field ?? fieldFromMessage(err.message), known), err.message);
  }
  return out;
}

/** The form fields errors can attach to, for a form with `rules` rules and these headers. */
export function knownFields(rules: number, headers: string[] = []): Set<string> {
  const fields = new Set([
    "form",
    "url",
    "id",
    "name",
    "headers",
    "auth",
    "reconnect_time",
    "backoff_cap",
    "idle_timeout",
    "max_event_size",
    "ca_file",
    "history",
    "history.max_age",
    "rules",
  ]);
  for (let i = 0; i < rules; i++) {
    fields.add(`rules[${i}]`);
    for (const f of RULE_FIELDS) fields.add(`rules[${i}].${f}`);
  }
  for (const name of headers) if (name) fields.add(`headers.${name}`);
  return fields;
}

/** The units a duration may use (the engine reads durations with humantime). */
const DURATION_UNITS = new Set(
  "ns nsec nanos us usec micros µs ms msec millis s sec secs second seconds m min mins minute minutes h hr hrs hour hours d day days w week weeks M month months y year years".split(" "),
);

/**
 * What is wrong with a duration as typed ("3s", "1h 30m"), or null: checked here so that a
 * typo gets its field's error at once instead of the engine refusing the whole request.
 */
export function durationProblem(text: string): string | null {
  const parts = [...text.trim().matchAll(/(\d+)\s*([A-Za-zµ]+)\s*/gy)];
  const read = parts.map((m) => m[0]).join("");
  if (!parts.length || read.length !== text.trim().length) return 'a duration such as "3s", "2m", "1h 30m" or "30d"';
  const unknown = parts.find((m) => !DURATION_UNITS.has(m[2]!));
  if (unknown) return `unknown time unit "${unknown[2]}" (use ms, s, m, h, d, w)`;
  return null;
}

/** Whether a header value or secret is a reference (`env:NAME`, `file:PATH`). */
export function isReference(value: string): boolean {
  return value.startsWith("env:") || value.startsWith("file:");
}

const SECRET_HEADER = /auth|password|token|secret|key|cookie/i;

/** Whether a header's value must be a secret (the engine moves literals to files on add). */
export function isSecretHeader(name: string): boolean {
  return SECRET_HEADER.test(name);
}

/** Messages the rule tester takes from history at most. */
export const RECENT_SAMPLE = 20;

/**
 * History rows (newest first, as history pages come) as the stream that carried them, oldest
 * first: `event:` unless it is `message`, `id:` when the event had one, a `data:` line per
 * line, a blank line after each. Rows the daemon wrote itself (possible gaps) are left out.
 */
export function toTranscript(rows: StoredEvent[]): string {
  return [...rows]
    .reverse()
    .filter((e) => e.action !== "gap")
    .map((e) => {
      const lines = e.type === "message" ? [] : [`event: ${e.type}`];
      if (e.id !== null) lines.push(`id: ${e.id}`);
      for (const line of e.data.split("\n")) lines.push(`data: ${line}`);
      return `${lines.join("\n")}\n\n`;
    })
    .join("");
}
