import { describe, expect, it } from "vitest";
import type { SubscriptionSpec } from "./api";
import { addInput, durationProblem, emptyForm, errorsByField, fieldFromMessage, fieldOf, formToSpec, knownFields, specToForm, toTranscript } from "./form";

const full: SubscriptionSpec = {
  id: "ci",
  name: "CI",
  url: "https://ci.example/events",
  headers: { "X-Api-Key": "env:CI_KEY", "Accept-Language": "en" },
  auth: { type: "bearer", token: "file:secrets/ci.token" },
  reconnect_time: "5s",
  backoff_cap: "2m",
  idle_timeout: "90s",
  max_event_size: 1024,
  ca_file: "~/ca.pem",
  resume: { cursor: "/id", query: "since" },
  history: { max_events: 50 },
  rate_limit: { max: 2 },
  rules: [
    {
      event: "build-*",
      when: [{ pointer: "/status", equals: "failed" }],
      title: "{{ json.pipeline }} failed",
      urgency: "critical",
      click_url: "{{ json.url }}",
      replace_key: "k",
      category: "x-ci.failed",
    },
    { event: "*", action: "history" },
  ],
};

describe("spec ↔ form", () => {
  it("round-trips every field, keeping keys the form has no inputs for", () => {
    const form = specToForm(full);
    expect(form.headers).toHaveLength(2);
    expect(form.authType).toBe("bearer");
    expect(form.secret).toBe("file:secrets/ci.token");
    expect(form.rules[0]!.extra).toEqual({ category: "x-ci.failed" });
    const { spec, errors } = formToSpec(form, full);
    expect(errors).toEqual({});
    expect(spec).toEqual(full);
  });

  it("leaves defaults out and trims", () => {
    const form = { ...emptyForm(), url: " http://localhost:8080/sse ", name: "  " };
    const { spec, errors } = formToSpec(form);
    expect(errors).toEqual({});
    expect(spec).toEqual({ id: "", url: "http://localhost:8080/sse" });
  });

  it("clears a field that was emptied while editing", () => {
    const form = specToForm(full);
    form.ca_file = "";
    form.authType = "";
    form.rules = [];
    const { spec } = formToSpec(form, full);
    expect(spec.ca_file).toBeUndefined();
    expect(spec.auth).toBeUndefined();
    expect(spec.rules).toBeUndefined();
    expect(spec.resume).toEqual(full.resume);
  });

  it("reports bad JSON conditions and bad numbers at their fields", () => {
    const form = { ...emptyForm(), url: "http://x", max_event_size: "-3" };
    form.rules = [{ ...specToForm(full).rules[1]!, when: "{not json" }];
    form.headers = [{ name: "", value: "v" }, { name: "A", value: "1" }, { name: "a", value: "2" }];
    const { errors } = formToSpec(form);
    // Each header's error on its own row.
    expect(Object.keys(errors).sort()).toEqual(["headers[0]", "headers[2]", "max_event_size", "rules[0].when"]);
    expect(errors["headers[0]"]).toEqual(["a header needs a name"]);
    expect(errors["headers[2]"]).toEqual(["header a is given twice"]);
  });

  it("accepts a single condition object", () => {
    const form = { ...emptyForm(), url: "http://x" };
    form.rules = [{ ...specToForm(full).rules[1]!, when: '{"contains":"ERROR"}' }];
    expect(formToSpec(form).spec.rules![0]!.when).toEqual([{ contains: "ERROR" }]);
  });

  it("requires a URL", () => {
    expect(formToSpec(emptyForm()).errors["url"]).toBeDefined();
  });
});

describe("addInput", () => {
  it("sends the basic fields and says when an update must follow", () => {
    const basic: SubscriptionSpec = { id: "a", url: "http://x", name: "A", headers: { Authorization: "Bearer s3cret" } };
    expect(addInput(basic)).toEqual({
      input: { url: "http://x", id: "a", name: "A", headers: [["Authorization", "Bearer s3cret"]] },
      needsUpdate: false,
    });
    expect(addInput({ id: "", url: "http://x" }).input).toEqual({ url: "http://x", headers: [] });
    expect(addInput(full).needsUpdate).toBe(true);
  });
});

describe("engine errors → fields", () => {
  const known = knownFields(2);
  it("maps paths to the closest form field", () => {
    expect(fieldOf("url", known)).toBe("url");
    expect(fieldOf("rules[1].when[0].regex", known)).toBe("rules[1].when");
    expect(fieldOf("rules[1].icon", known)).toBe("rules[1]");
    expect(fieldOf("rules[7].title", known)).toBe("rules");
    expect(fieldOf("headers.X-Api-Key", known)).toBe("headers");
    expect(fieldOf("auth.password", known)).toBe("auth");
    expect(fieldOf('subscription "a".url', known)).toBe("url");
    expect(fieldOf("nonsense", known)).toBe("form");
    expect(fieldOf(undefined, known)).toBe("form");
  });
  it("finds the field in engine messages", () => {
    expect(fieldFromMessage('subscription "a": url: URL "ftp://e.com/b": scheme "ftp" is not allowed')).toBe("url");
    expect(fieldFromMessage("/x/subscriptions.toml:12:6: subscription #3: id: id \"b c\" is not valid")).toBe("id");
    expect(fieldFromMessage("something went wrong")).toBeUndefined();
  });
  it("groups problems by field", () => {
    expect(errorsByField({ message: "bad", field: "url" }, known)).toEqual({ url: ["bad"] });
    expect(
      errorsByField({
        message: "2 problems",
        problems: [
          { field: "rules[0].when[0].regex", message: "invalid regex" },
          { message: 'subscription "a": idle_timeout: must be more than 0' },
          { message: "other" },
        ],
      }, known),
    ).toEqual({ "rules[0].when": ["invalid regex"], idle_timeout: ['subscription "a": idle_timeout: must be more than 0'], form: ["other"] });
  });
});

describe("durations", () => {
  it("accepts what the engine reads and names what it would refuse", () => {
    for (const ok of ["3s", "500ms", "1h 30m", "30d", "2 min", "1week"]) expect(durationProblem(ok), ok).toBeNull();
    expect(durationProblem("10x")).toBe('unknown time unit "x" (use ms, s, m, h, d, w)');
    for (const bad of ["10", "s", "3s!", "-3s"]) expect(durationProblem(bad), bad).toMatch(/^a duration such as/);
  });
  it("keeps a bad duration out of a spec, with the error at its field", () => {
    const form = emptyForm();
    form.url = "http://x";
    form.reconnect_time = "3 sex";
    form.history_max_age = "soon";
    const { errors } = formToSpec(form);
    expect(Object.keys(errors).sort()).toEqual(["history.max_age", "reconnect_time"]);
  });
});


describe("toTranscript", () => {
  it("writes history rows back as the stream that carried them, oldest first, without gap rows", () => {
    const row = (n: number, type: string, data: string, id: string | null, action = "notified") =>
      ({ row: n, subscription: "a", type, data, id, last_event_id: id ?? "", received_at: n, action }) as Parameters<typeof toTranscript>[0][number];
    const newestFirst = [
      row(3, "deploy", "line 1\nline 2", "7"),
      row(2, "ssenotify.gap", "{}", null, "gap"),
      row(1, "message", "hello", null),
    ];
    expect(toTranscript(newestFirst)).toBe("data: hello\n\nevent: deploy\nid: 7\ndata: line 1\ndata: line 2\n\n");
    expect(toTranscript([])).toBe("");
  });
});
