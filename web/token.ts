/**
 * The bearer token field: kept in sessionStorage for the tab, shown when the server requires a
 * token or one is already set, and brought forward when the server answers 401.
 */
import { $, meta } from "./dom.ts";
import { storageOr } from "./storage.ts";

const TOKEN_KEY = "resumable:token";

const authRequired = meta("resumable-auth") === "required";
const session = storageOr(() => sessionStorage);
const tokenSection = $<HTMLElement>("#token-section");
const tokenInput = $<HTMLInputElement>("#token");
tokenInput.value = session.getItem(TOKEN_KEY) ?? "";
tokenSection.hidden = !authRequired && tokenInput.value === "";
tokenInput.addEventListener("input", () => {
  const token = tokenInput.value.trim();
  if (token) session.setItem(TOKEN_KEY, token);
  else session.removeItem(TOKEN_KEY);
});

export function authHeaders(): Record<string, string> {
  const token = tokenInput.value.trim();
  return token ? { Authorization: `Bearer ${token}` } : {};
}

export function askForToken(): void {
  tokenSection.hidden = false;
  tokenInput.focus();
}
