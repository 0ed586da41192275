/**
 * Hides secrets in a config before it is shown (`resumable server --print-config`): values under
 * secret-like keys (`authSecret`, `password`, `token`, `accessKey`…) become "[redacted]", and in
 * every URL-like string the password of the user info and secret-like query parameters
 * (`postgres://app:[redacted]@db/x`, `https://h/x?token=[redacted]`).
 */

export const REDACTED = "[redacted]";

const SECRET_KEY = /secret|passw|token|credential|private|key$|^auth$|signature/i;
const SECRET_PARAM = /secret|passw|token|credential|key|sig|auth/i;
const URL_LIKE = /^[a-z][a-z0-9+.-]*:\/\//i;

/** A deep copy of `value` with secrets replaced by "[redacted]". */
export function redactConfig<T>(value: T): T {
  return redact(value, "") as T;
}

/** `url` with its user-info password and secret-like query parameter values redacted. */
export function redactUrl(url: string): string {
  const scheme = URL_LIKE.exec(url)?.[0];
  if (scheme === undefined) return url;
  let rest = url.slice(scheme.length);
  // User info ends at the last @ before the first / after the first @: an unencoded / ? # in a
  // password (`u:p#ss@db`, `u:pa/ss@db`) must not hide it. When in doubt this redacts too much
  // (an @ in a query can be taken for one), never too little.
  const first = rest.indexOf("@");
  if (first >= 0) {
    const slash = rest.indexOf("/", first);
    const at = rest.lastIndexOf("@", slash < 0 ? rest.length : slash);
    const userInfo = rest.slice(0, at);
    const colon = userInfo.indexOf(":");
    // `user:password` keeps the user; a lone token (`https://ghp_x@h`) goes whole.
    rest = (colon >= 0 ? `${userInfo.slice(0, colon)}:${REDACTED}` : REDACTED) + rest.slice(at);
  }
  const query = rest.indexOf("?");
  if (query < 0) return scheme + rest;
  const hash = rest.indexOf("#", query);
  const end = hash < 0 ? rest.length : hash;
  const params = rest.slice(query + 1, end).split("&").map((pair) => {
    const eq = pair.indexOf("=");
    if (eq < 0) return pair;
    let name = pair.slice(0, eq);
    try {
      name = decodeURIComponent(name);
    } catch { /* keep it encoded */ }
    return SECRET_PARAM.test(name) ? `${pair.slice(0, eq)}=${REDACTED}` : pair;
  });
  return scheme + rest.slice(0, query + 1) + params.join("&") + rest.slice(end);
}

/** `text` with every URL in it redacted (for log lines and error messages). */
export function redactUrls(text: string): string {
  return text.replace(/[a-z][a-z0-9+.-]*:\/\/[^\s"'<>]+/gi, (url) => redactUrl(url));
}

function redact(value: unknown, key: string): unknown {
  if (value === undefined || value === null) return value;
  if (key === "onFinish" && typeof value === "string") {
    // A command line may carry a token among its arguments: show only the program.
    const [program = "", ...args] = value.trim().split(/\s+/);
    return args.length ? `${program} [${args.length} argument(s) ${REDACTED}]` : program;
  }
  if (key !== "" && SECRET_KEY.test(key) && typeof value !== "object") return REDACTED;
  if (typeof value === "string") return redactUrl(value);
  if (Array.isArray(value)) return value.map((v) => redact(v, ""));
  if (typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redact(v, k)]));
  }
  return value;
}
