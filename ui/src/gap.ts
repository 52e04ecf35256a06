// Gap rows: history rows of action "gap" hold an outage the daemon could not prove complete
// (JSON: start, end, cause, class, why). The message list shows them as one line of text.

/** What a gap row's data holds (the history crate's `Outage`). */
export interface Outage {
  start: number;
  end: number;
  cause: string;
  class: "gap" | "unknown";
  why: string;
}

/** A gap row's outage, or null when `data` is not one. */
export function parseOutage(data: string): Outage | null {
  try {
    const o = JSON.parse(data) as Partial<Outage>;
    if (typeof o.start !== "number" || typeof o.end !== "number" || typeof o.why !== "string") return null;
    return { start: o.start, end: o.end, cause: String(o.cause ?? ""), class: o.class === "gap" ? "gap" : "unknown", why: o.why };
  } catch {
    return null;
  }
}

/** "possible gap 14:02–14:09 (reconnected without a resume point)", in local time, as `ssenotify history` prints it. */
export function gapText(data: string): string | null {
  const o = parseOutage(data);
  if (!o) return null;
  const hm = (ms: number) => {
    const d = new Date(ms);
    return `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
  };
  return `possible gap ${hm(o.start)}–${hm(o.end)} (${o.why}); outage began with: ${o.cause}`;
}
