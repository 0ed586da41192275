/** The few DOM helpers the page builds itself with. */

/** The one element that matches `selector`; the page is broken without it. */
export const $ = <T extends HTMLElement>(selector: string): T => {
  const found = document.querySelector<T>(selector);
  if (!found) throw new Error(`The page has no ${selector}`);
  return found;
};

/** The content of `<meta name="…">`, or "" when the page has none. */
export const meta = (name: string): string =>
  document.querySelector<HTMLMetaElement>(`meta[name="${name}"]`)?.content ?? "";

export function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className?: string,
  text?: string,
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (className) el.className = className;
  if (text !== undefined) el.textContent = text;
  return el;
}

/** A button whose accessible name says what it acts on ("Pause photo.jpg"). */
export function button(
  label: string,
  action: string,
  name: string,
  onClick: () => void,
): HTMLButtonElement {
  const b = element("button", action, label);
  b.type = "button";
  b.setAttribute("aria-label", `${label} ${name}`);
  b.addEventListener("click", onClick);
  return b;
}
