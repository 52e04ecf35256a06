import { describe, expect, it } from "vitest";
import { decisionView, diffChanges, diffLines, formToSettings, settingsToForm, unescapeMarkup } from "./report";

describe("import diff", () => {
  const r = {
    added: ["news"],
    changed: [{ id: "deploys", fields: ["url", "rules"], reconnect: true }],
    removed: ["old"],
    unchanged: ["alerts"],
    notifications_changed: true,
    warnings: ["command not imported"],
  };
  it("renders lines like the CLI's dry run", () => {
    expect(diffLines(r).map((l) => `${l.sign} ${l.text}`)).toEqual([
      "+ news",
      "~ deploys (url, rules) — reconnects",
      "- old",
      "= alerts",
      "~ [notifications]",
      "! command not imported",
    ]);
    expect(diffChanges(r)).toBe(true);
  });
  it("knows an import that changes nothing", () => {
    const same = { added: [], changed: [], removed: [], unchanged: ["a"], notifications_changed: false, warnings: [] };
    expect(diffChanges(same)).toBe(false);
  });
});

describe("rule tester decisions", () => {
  it("shows the rendered notification with the body unescaped for text display", () => {
    const d = decisionView({ rule: 0, action: "notify", title: "api failed", body: "Step &lt;test&gt; &amp; more", urgency: "critical", click_url: "https://ci/7" });
    expect(d.headline).toBe("rule 0 → notify");
    expect(d.notification).toEqual({ title: "api failed", body: "Step <test> & more", urgency: "critical", clickUrl: "https://ci/7" });
  });
  it("explains suppressed, command, and template errors", () => {
    const s = decisionView({ rule: 0, action: "suppressed", why: "rate_limited", notification: { title: "t", body: "b", urgency: "normal" } });
    expect(s.notes).toEqual(["held: rate_limited"]);
    expect(s.notification?.title).toBe("t");
    const c = decisionView({ rule: 3, action: "command", argv: ["/bin/x", "--q"] });
    expect(c.notes).toEqual(["runs: /bin/x --q"]);
    const h = decisionView({ rule: null, action: "history", template_error: "oops", refused_click_url: { url: "javascript:x", reason: "no" } });
    expect(h.headline).toBe("no rule → history");
    expect(h.notification).toBeNull();
    expect(h.notes).toEqual(["template error: oops", "click URL refused: javascript:x (no)"]);
  });
  it("unescapes only the markup entities", () => {
    expect(unescapeMarkup("&lt;b&gt;&quot;x&apos;&#39;&amp;lt;")).toBe(`<b>"x''&lt;`);
  });
});

describe("settings form", () => {
  it("round-trips quiet hours and the rate limit", () => {
    const n = { quiet_hours: [{ days: ["mon", "fri"], from: "22:00", to: "07:00" }, { from: "12:00", to: "13:00" }], rate_limit: { max: 5, per: "10s", catch_up: 0 } };
    const f = settingsToForm(n, true);
    expect(f.autostart).toBe(true);
    expect(formToSettings(f)).toEqual({ notifications: n, errors: {} });
  });
  it("treats all seven days as every day and validates", () => {
    const f = settingsToForm({}, false);
    f.quiet = [{ days: ["sun", "mon", "tue", "wed", "thu", "fri", "sat"], from: "7:00", to: "08:00" }];
    f.rateMax = "0";
    const { notifications, errors } = formToSettings(f);
    expect(notifications.quiet_hours).toEqual([{ from: "7:00", to: "08:00" }]);
    expect(errors).toEqual({ "quiet[0].from": "HH:MM, 24-hour", rate_max: "a whole number, at least 1" });
    expect(formToSettings(settingsToForm({}, false)).notifications).toEqual({});
  });
});
