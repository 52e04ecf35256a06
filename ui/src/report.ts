// Pure presentation of engine reports: the import dry-run diff, rule tester decisions, and
// settings form conversion. Everything returns plain strings; the view puts them in text nodes.
import type {
  Decision,
  ImportResult,
  Notification,
  NotificationSettings,
  QuietHoursSpec,
  TrustItem,
} from "./api";
import { durationProblem } from "./form";

export interface DiffLine {
  sign: "+" | "~" | "-" | "=" | "!";
  kind: "added" | "changed" | "removed" | "unchanged" | "warning";
  text: string;
}

/** The dry-run diff as `ssenotify import --dry-run` prints it. */
export function diffLines(r: ImportResult): DiffLine[] {
  const lines: DiffLine[] = [];
  for (const id of r.added ?? []) lines.push({ sign: "+", kind: "added", text: id });
  for (const c of r.changed ?? []) {
    const fields = c.fields?.length ? ` (${c.fields.join(", ")})` : "";
    lines.push({
      sign: "~",
      kind: "changed",
      text: `${c.id}${fields}${c.reconnect ? " — reconnects" : ""}`,
    });
  }
  for (const id of r.removed ?? []) lines.push({ sign: "-", kind: "removed", text: id });
  for (const id of r.unchanged ?? []) lines.push({ sign: "=", kind: "unchanged", text: id });
  if (r.notifications_changed) lines.push({ sign: "~", kind: "changed", text: "[notifications]" });
  for (const w of r.warnings ?? []) lines.push({ sign: "!", kind: "warning", text: w });
  return lines;
}

/** One line per item an import needs trust for, worded like `ssenotify import`'s list. */
export function trustLines(items: TrustItem[]): string[] {
  return items.map((t) =>
    t.kind === "command"
      ? `${t.subscription}: rule ${t.rule + 1} runs ${JSON.stringify(t.argv)} on events from ${t.server}`
      : `${t.subscription}: ${t.field} reads ${readWhat(t.reference)} and sends it to ${t.server}`,
  );
}

/** What the confirmation allows, named: "run /bin/sh, read file ~/.ssh/id and environment variable X". */
export function trustConsent(items: TrustItem[]): string {
  const unique = (xs: string[]) => [...new Set(xs)];
  const runs = unique(items.flatMap((t) => (t.kind === "command" ? [t.argv[0] ?? ""] : [])));
  const reads = unique(items.flatMap((t) => (t.kind === "read" ? [readWhat(t.reference)] : [])));
  const parts = [];
  if (runs.length) parts.push(`run ${runs.join(", ")}`);
  if (reads.length) parts.push(`read ${reads.join(", ")}`);
  return `I trust this input: allow it to ${parts.join(" and ")}`;
}

function readWhat(reference: string): string {
  if (reference.startsWith("env:")) return `environment variable ${reference.slice(4)}`;
  if (reference.startsWith("file:")) return `file ${reference.slice(5)}`;
  return reference;
}

/** Whether confirming the import would change anything. */
export function diffChanges(r: ImportResult): boolean {
  return (
    (r.added?.length ?? 0) + (r.changed?.length ?? 0) + (r.removed?.length ?? 0) > 0 ||
    r.notifications_changed
  );
}

/** Undoes the freedesktop markup escaping of a rendered body, for display as text. */
export function unescapeMarkup(s: string): string {
  return s.replace(/&(lt|gt|amp|quot|apos|#39|#x27);/g, (_, e: string) => {
    switch (e) {
      case "lt":
        return "<";
      case "gt":
        return ">";
      case "amp":
        return "&";
      case "quot":
        return '"';
      default:
        return "'";
    }
  });
}

export interface DecisionView {
  /** One line: "rule 0 → notify", "no rule matched → history". */
  headline: string;
  /** The notification that would show (or was held), if any. */
  notification: { title: string; body: string; urgency: string; clickUrl?: string } | null;
  /** Extra facts: suppression reason, command argv, template errors. */
  notes: string[];
}

function note(n: Notification): DecisionView["notification"] {
  const out: NonNullable<DecisionView["notification"]> = {
    title: n.title,
    body: unescapeMarkup(n.body ?? ""),
    urgency: n.urgency ?? "normal",
  };
  if (n.click_url) out.clickUrl = n.click_url;
  return out;
}

/** A rule tester decision as text. */
export function decisionView(d: Decision): DecisionView {
  const rule = d.rule === null || d.rule === undefined ? "no rule" : `rule ${d.rule}`;
  const notes: string[] = [];
  let notification: DecisionView["notification"] = null;
  if (d.action === "notify") {
    notification = note({
      title: d.title ?? "",
      body: d.body ?? "",
      ...(d.urgency ? { urgency: d.urgency } : {}),
      ...(typeof d.click_url === "string" ? { click_url: d.click_url } : {}),
    });
  } else if (d.action === "suppressed") {
    notes.push(`held: ${d.why ?? "suppressed"}`);
    if (d.notification) notification = note(d.notification);
  } else if (d.action === "command") {
    notes.push(`runs: ${(d.argv ?? []).join(" ")}`);
  }
  if (d.template_error) notes.push(`template error: ${d.template_error}`);
  if (d.refused_click_url) {
    notes.push(`click URL refused: ${d.refused_click_url.url} (${d.refused_click_url.reason})`);
  }
  return { headline: `${rule} → ${d.action}`, notification, notes };
}

export const WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] as const;

export interface SettingsForm {
  quiet: { days: string[]; from: string; to: string }[];
  rateMax: string;
  ratePer: string;
  catchUp: string;
  autostart: boolean;
}

export function settingsToForm(n: NotificationSettings, autostart: boolean): SettingsForm {
  return {
    quiet: (n.quiet_hours ?? []).map((q) => ({
      days: (q.days ?? []).map((d) => d.slice(0, 3).toLowerCase()),
      from: q.from,
      to: q.to,
    })),
    rateMax: n.rate_limit?.max !== undefined ? String(n.rate_limit.max) : "",
    ratePer: n.rate_limit?.per ?? "",
    catchUp: n.rate_limit?.catch_up !== undefined ? String(n.rate_limit.catch_up) : "",
    autostart,
  };
}

const HHMM = /^([01]\d|2[0-3]):[0-5]\d$/;

/** The form as NotificationSettings, or field errors (`quiet[0].from`, `rate_max`...). */
export function formToSettings(f: SettingsForm): {
  notifications: NotificationSettings;
  errors: Record<string, string>;
} {
  const errors: Record<string, string> = {};
  const quiet_hours: QuietHoursSpec[] = [];
  f.quiet.forEach((q, i) => {
    if (!HHMM.test(q.from)) errors[`quiet[${i}].from`] = "HH:MM, 24-hour";
    if (!HHMM.test(q.to)) errors[`quiet[${i}].to`] = "HH:MM, 24-hour";
    const spec: QuietHoursSpec = { from: q.from, to: q.to };
    // Every day is the same as none.
    if (q.days.length && q.days.length < 7) {
      spec.days = WEEKDAYS.filter((d) => q.days.includes(d));
    }
    quiet_hours.push(spec);
  });
  const notifications: NotificationSettings = {};
  if (quiet_hours.length) notifications.quiet_hours = quiet_hours;
  const rate: NonNullable<NotificationSettings["rate_limit"]> = {};
  if (f.rateMax.trim()) {
    const n = Number(f.rateMax);
    if (!Number.isInteger(n) || n < 1) errors.rate_max = "a whole number, at least 1";
    else rate.max = n;
  }
  if (f.ratePer.trim()) {
    const problem = durationProblem(f.ratePer);
    if (problem) errors.rate_per = problem;
    else rate.per = f.ratePer.trim();
  }
  if (f.catchUp.trim()) {
    const n = Number(f.catchUp);
    if (!Number.isInteger(n) || n < 0) errors.catch_up = "a whole number, 0 or more";
    else rate.catch_up = n;
  }
  if (Object.keys(rate).length) notifications.rate_limit = rate;
  return { notifications, errors };
}
