import { describe, expect, it } from "vitest";
import { el, replace } from "./dom";

const IMG = "<img src=x onerror=alert(1)>";
const SCRIPT = "<script>window.__pwned = true</script>";

describe("el", () => {
  it("renders markup in data as literal text", () => {
    const p = el("p", {}, [IMG, " and ", SCRIPT]);
    expect(p.textContent).toBe(`${IMG} and ${SCRIPT}`);
    expect(p.querySelector("img, script")).toBeNull();
    expect(p.childNodes).toHaveLength(3);
    for (const node of p.childNodes) expect(node.nodeType).toBe(Node.TEXT_NODE);
    // Serialized, the markup is escaped: it is text, not elements.
    expect(p.innerHTML).toContain("&lt;img src=x onerror=alert(1)&gt;");
    expect(p.innerHTML).toContain("&lt;script&gt;");
  });

  it("keeps quotes in attribute values inside the attribute", () => {
    const a = el("span", { title: `x" onmouseover="alert(1)`, "data-id": IMG });
    expect(a.getAttribute("title")).toBe(`x" onmouseover="alert(1)`);
    expect(a.getAttribute("onmouseover")).toBeNull();
    expect(a.dataset.id).toBe(IMG);
  });

  it("refuses handler strings, inline style, srcdoc and script URLs", () => {
    expect(() => el("img", { onerror: "alert(1)" })).toThrow(/not allowed/);
    expect(() => el("div", { ONCLICK: "alert(1)" })).toThrow(/not allowed/);
    expect(() => el("div", { style: "color:red" })).toThrow(/not allowed/);
    expect(() => el("iframe", { srcdoc: SCRIPT })).toThrow(/not allowed/);
    expect(() => el("a", { href: "javascript:alert(1)" })).toThrow(/script URL/);
    expect(() => el("a", { href: " \tjava\nscript:alert(1)" })).toThrow(/script URL/);
    expect(() => el("img", { src: "data:text/html,x" })).toThrow(/script URL/);
    expect(el("a", { href: "https://example.com/a" }).getAttribute("href")).toBe(
      "https://example.com/a",
    );
  });

  it("attaches listeners given as functions", () => {
    let clicks = 0;
    const b = el("button", { on: { click: () => clicks++ } }, ["go"]);
    b.click();
    b.click();
    expect(clicks).toBe(2);
  });

  it("skips empty children and sets boolean attributes", () => {
    const d = el("input", { disabled: true, hidden: false, title: null });
    expect(d.hasAttribute("disabled")).toBe(true);
    expect(d.hasAttribute("hidden")).toBe(false);
    expect(d.hasAttribute("title")).toBe(false);
    const p = el("p", {}, [null, undefined, false, 0, "x"]);
    expect(p.textContent).toBe("0x");
  });

  it("replace swaps all children", () => {
    const p = el("p", {}, ["old"]);
    replace(p, [el("b", {}, ["new"])]);
    expect(p.innerHTML).toBe("<b>new</b>");
  });
});
