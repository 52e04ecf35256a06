// Small view helpers shared by the panes. All DOM goes through el(): text stays text.
import { el, type Child } from "../dom";

let uid = 0;
/** A unique element id for label/description wiring. */
export function nextId(prefix: string): string {
  uid += 1;
  return `${prefix}-${uid}`;
}

/** A labelled form field with an error slot (`form-error-<key>`) and an optional hint. */
export function field(
  label: string,
  control: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement,
  errorKey: string,
  hint?: string,
): HTMLElement {
  const id = control.id || nextId("f");
  control.id = id;
  const errId = `${id}-err`;
  const hintId = hint ? `${id}-hint` : "";
  control.setAttribute("aria-describedby", [errId, hintId].filter(Boolean).join(" "));
  return el("div", { class: "field" }, [
    el("label", { for: id }, [label]),
    control,
    hint ? el("small", { class: "hint", id: hintId }, [hint]) : null,
    el("span", {
      class: "field-error",
      id: errId,
      "data-testid": `form-error-${errorKey}`,
      "data-error-for": errorKey,
      role: "alert",
      hidden: true,
    }),
  ]);
}

/** Shows errors (field → messages) in the `[data-error-for]` slots of `root`; returns the rest. */
export function showErrors(root: Element, errors: Record<string, string[]>): string[] {
  const rest: string[] = [];
  for (const slot of root.querySelectorAll<HTMLElement>("[data-error-for]")) {
    slot.textContent = "";
    slot.hidden = true;
  }
  for (const [key, messages] of Object.entries(errors)) {
    const slot = root.querySelector<HTMLElement>(`[data-error-for="${CSS.escape(key)}"]`);
    if (slot) {
      slot.textContent = messages.join("; ");
      slot.hidden = false;
      const control = slot.parentElement?.querySelector("input, select, textarea");
      control?.setAttribute("aria-invalid", "true");
    } else rest.push(...messages);
  }
  return rest;
}

export function button(
  text: string,
  onClick: () => void,
  attrs: Record<string, string | boolean | undefined> = {},
): HTMLButtonElement {
  return el("button", { type: "button", ...attrs, on: { click: () => onClick() } }, [text]);
}

export function input(attrs: Record<string, string | boolean | undefined>): HTMLInputElement {
  return el("input", { type: "text", ...attrs });
}

export function section(title: string, children: Child[], attrs: Record<string, string> = {}): HTMLElement {
  return el("section", { class: "panel", ...attrs }, [el("h3", {}, [title]), ...children]);
}

/** Copies text to the clipboard, falling back to selecting it in `area`. */
export async function copyText(text: string, area?: HTMLTextAreaElement): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    if (area) {
      area.focus();
      area.select();
      return document.execCommand?.("copy") ?? false;
    }
    return false;
  }
}

/**
 * Runs `render` (which rebuilds `container`'s children) and puts the focus back on the
 * element with the same `data-testid`/`data-focus` it had, so live updates never steal it.
 */
export function keepFocus(container: Element, render: () => void): void {
  const active = document.activeElement;
  let selector: string | null = null;
  if (active && container.contains(active)) {
    const key = active.getAttribute("data-focus") ?? active.getAttribute("data-testid");
    const attr = active.hasAttribute("data-focus") ? "data-focus" : "data-testid";
    if (key) selector = `[${attr}="${CSS.escape(key)}"]`;
  }
  render();
  if (selector) container.querySelector<HTMLElement>(selector)?.focus();
}
