// The only way this UI builds DOM. Strings always become text nodes and attributes go
// through setAttribute, so data from feeds (names, URLs, event data) can never become
// markup or script: there is no innerHTML anywhere in ui/src.

/** A child: nodes as they are, strings and numbers as text, nothing for null/undefined/false. */
export type Child = Node | string | number | null | undefined | false;

/** Event listeners by event name. */
export type Listeners = {
  [K in keyof HTMLElementEventMap]?: (event: HTMLElementEventMap[K]) => void;
};

/** Attributes (set with setAttribute) plus `on` for listeners. */
export interface Attrs {
  [name: string]: string | number | boolean | null | undefined | Listeners;
  on?: Listeners;
}

// Attributes a browser navigates to or loads; a `javascript:` URL there would run code. URL
// parsing drops leading C0 controls and spaces and ignores tabs and newlines anywhere, so the
// check does the same before looking at the scheme.
const URL_ATTRS = new Set(["href", "src", "action", "formaction", "xlink:href"]);
const SCRIPT_SCHEME = /^(javascript|vbscript|data):/i;

function isScriptUrl(value: string): boolean {
  const normalized = value.replace(/^[\u0000-\u0020]+/, "").replace(/[\t\n\r]/g, "");
  return SCRIPT_SCHEME.test(normalized);
}

/**
 * Creates an element. `on*` attributes are refused (handlers are functions in `on`, never
 * strings), and so are `style` (the CSP has no 'unsafe-inline'; use classes), `srcdoc`
 * (markup) and script URLs in URL attributes.
 * Boolean `true` sets an empty attribute, `false`/null/undefined leave it out.
 */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  children: Child[] = [],
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === "on") {
      for (const [type, listener] of Object.entries((value ?? {}) as Listeners)) {
        if (listener) node.addEventListener(type, listener as EventListener);
      }
      continue;
    }
    const lower = name.toLowerCase();
    if (lower.startsWith("on") || lower === "style" || lower === "srcdoc") {
      throw new Error(`el: attribute "${name}" is not allowed`);
    }
    if (value === false || value === null || value === undefined) continue;
    const text = value === true ? "" : String(value);
    if (URL_ATTRS.has(lower) && isScriptUrl(text)) {
      throw new Error(`el: a script URL in "${name}" is not allowed`);
    }
    node.setAttribute(name, text);
  }
  append(node, children);
  return node;
}

/** Appends children, strings as text nodes. */
export function append(parent: Node, children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(
      typeof child === "string" || typeof child === "number"
        ? document.createTextNode(String(child))
        : child,
    );
  }
}

/** Replaces all children of `parent`. */
export function replace(parent: Element, children: Child[]): void {
  parent.replaceChildren();
  append(parent, children);
}
