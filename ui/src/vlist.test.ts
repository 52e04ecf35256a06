import { describe, expect, it } from "vitest";
import { addedOnTop, anchoredScrollTop, navigate, nearEnd, scrollToRow, visibleWindow } from "./vlist";

describe("visibleWindow", () => {
  it("renders only the rows in view plus overscan", () => {
    const w = visibleWindow(0, 280, 28, 10_000, 5);
    expect(w).toEqual({ start: 0, end: 16, offset: 0, height: 280_000 });
    const mid = visibleWindow(28 * 5000 + 10, 280, 28, 10_000, 5);
    expect(mid.start).toBe(4995);
    expect(mid.end).toBe(5016);
    expect(mid.offset).toBe(4995 * 28);
    expect(mid.end - mid.start).toBeLessThan(30);
  });
  it("clamps past the end and handles empty lists", () => {
    const w = visibleWindow(1e9, 280, 28, 100, 2);
    expect(w.end).toBe(100);
    expect(w.start).toBeGreaterThan(80);
    expect(visibleWindow(0, 280, 28, 0)).toEqual({ start: 0, end: 0, offset: 0, height: 0 });
    expect(visibleWindow(-50, 280, 28, 3).start).toBe(0);
  });
  it("knows when the end is near", () => {
    expect(nearEnd(visibleWindow(0, 280, 28, 1000), 1000)).toBe(false);
    expect(nearEnd(visibleWindow(28 * 990, 280, 28, 1000), 1000)).toBe(true);
  });
});

describe("scroll anchoring", () => {
  it("follows the newest at the top, keeps rows in place below", () => {
    expect(anchoredScrollTop(0, 10, 28)).toBe(0);
    expect(anchoredScrollTop(280, 10, 28)).toBe(560);
  });
  it("counts rows added on top", () => {
    const k = (x: string) => x;
    expect(addedOnTop(["c", "b"], ["e", "d", "c", "b"], k)).toBe(2);
    expect(addedOnTop([], ["a"], k)).toBe(1);
    expect(addedOnTop(["z"], ["a", "b"], k)).toBe(0);
  });
  it("scrolls a row into view", () => {
    expect(scrollToRow(0, 100, 280, 28)).toBe(0);
    expect(scrollToRow(20, 0, 280, 28)).toBe(21 * 28 - 280);
    expect(scrollToRow(5, 100, 280, 28)).toBe(100);
  });
});

describe("navigate", () => {
  it("moves the selection with the keyboard", () => {
    expect(navigate("ArrowDown", -1, 10, 5)).toBe(0);
    expect(navigate("ArrowDown", 9, 10, 5)).toBe(9);
    expect(navigate("ArrowUp", 0, 10, 5)).toBe(0);
    expect(navigate("PageDown", 2, 10, 5)).toBe(7);
    expect(navigate("PageUp", 2, 10, 5)).toBe(0);
    expect(navigate("End", 0, 10, 5)).toBe(9);
    expect(navigate("Home", 5, 10, 5)).toBe(0);
    expect(navigate("x", 5, 10, 5)).toBeNull();
    expect(navigate("ArrowDown", 0, 0, 5)).toBeNull();
  });
});
