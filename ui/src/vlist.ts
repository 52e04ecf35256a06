// Window math of the virtual event list: a fixed-row-height scroller renders only the rows
// in view (plus a few above and below), so 10,000 rows cost as much as 20.

export interface Window {
  /** First row rendered (index into the list). */
  start: number;
  /** One past the last row rendered. */
  end: number;
  /** Pixel offset of row `start` from the top of the content. */
  offset: number;
  /** Height of the whole content (all rows). */
  height: number;
}

/** The rows to render for a scroll position. */
export function visibleWindow(
  scrollTop: number,
  viewport: number,
  rowHeight: number,
  total: number,
  overscan = 5,
): Window {
  const height = total * rowHeight;
  if (total === 0 || rowHeight <= 0) return { start: 0, end: 0, offset: 0, height };
  const maxTop = Math.max(0, height - viewport);
  const top = Math.min(Math.max(0, scrollTop), maxTop);
  const first = Math.floor(top / rowHeight);
  const visible = Math.ceil(Math.max(viewport, rowHeight) / rowHeight) + 1;
  const start = Math.max(0, first - overscan);
  const end = Math.min(total, first + visible + overscan);
  return { start, end, offset: start * rowHeight, height };
}

/**
 * Where to scroll after `added` rows arrived at the top of a newest-first list: at the top,
 * stay there (follow the newest); scrolled down, keep the same rows in view.
 */
export function anchoredScrollTop(scrollTop: number, added: number, rowHeight: number): number {
  if (scrollTop <= 0 || added <= 0) return scrollTop;
  return scrollTop + added * rowHeight;
}

/** How many of `next`'s first rows are new compared with `prev` (by key of prev's first). */
export function addedOnTop<T>(prev: T[], next: T[], key: (t: T) => string): number {
  const first = prev[0];
  if (!first) return next.length;
  const k = key(first);
  const idx = next.findIndex((t) => key(t) === k);
  return idx < 0 ? 0 : idx;
}

/** The scrollTop that brings row `index` fully into view (unchanged if it already is). */
export function scrollToRow(
  index: number,
  scrollTop: number,
  viewport: number,
  rowHeight: number,
): number {
  const top = index * rowHeight;
  const bottom = top + rowHeight;
  if (top < scrollTop) return top;
  if (bottom > scrollTop + viewport) return bottom - viewport;
  return scrollTop;
}

/** The selected index after a navigation key, or null for keys the list does not handle. */
export function navigate(
  key: string,
  index: number,
  total: number,
  pageRows: number,
): number | null {
  if (total === 0) return null;
  const clamp = (i: number) => Math.min(total - 1, Math.max(0, i));
  switch (key) {
    case "ArrowDown":
      return clamp(index + 1);
    case "ArrowUp":
      return clamp(index - 1);
    case "PageDown":
      return clamp(index + Math.max(1, pageRows));
    case "PageUp":
      return clamp(index - Math.max(1, pageRows));
    case "Home":
      return 0;
    case "End":
      return total - 1;
    default:
      return null;
  }
}

/** Whether the user scrolled close enough to the end to fetch an older page. */
export function nearEnd(w: Window, total: number, margin = 50): boolean {
  return total > 0 && w.end >= total - margin;
}

/** Calls `paint` at most once per frame while `scroller` scrolls. */
export function repaintOnScroll(scroller: HTMLElement, paint: () => void): void {
  let frame = 0;
  scroller.addEventListener("scroll", () => {
    if (frame) return;
    frame = requestAnimationFrame(() => {
      frame = 0;
      paint();
    });
  });
}
