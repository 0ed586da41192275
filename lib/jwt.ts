import { UploadError } from "./errors.ts";
/**
 * JSON Web Tokens, HS256 only, with Web Crypto. Enough for bearer auth: sign (the `token`
 * command, tests) and verify (every request), with `exp`/`nbf` and a clock-skew allowance.
 */
export interface Claims {
  sub: string;
  exp?: number;
  nbf?: number;
  iat?: number;
  admin?: boolean;
  [claim: string]: unknown;
}

const encoder = new TextEncoder();

function base64url(bytes: Uint8Array): string {
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromBase64url(text: string): Uint8Array {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) throw new SyntaxError("not base64url");
  const bin = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

function key(secret: string, usage: KeyUsage): Promise<CryptoKey> {
  return crypto.subtle.importKey(
    "raw",
    encoder.encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    [usage],
  );
}

export async function signJwt(claims: Claims, secret: string): Promise<string> {
  const head = base64url(encoder.encode(JSON.stringify({ alg: "HS256", typ: "JWT" })));
  const body = base64url(encoder.encode(JSON.stringify(claims)));
  const signature = await crypto.subtle.sign(
    "HMAC",
    await key(secret, "sign"),
    encoder.encode(`${head}.${body}`),
  );
  return `${head}.${body}.${base64url(new Uint8Array(signature))}`;
}

/**
 * The claims of a valid token, or a 401 UploadError saying why it isn't: malformed, not HS256, bad
 * signature, expired, not yet valid, or without a `sub`. `now` is in seconds.
 */
export async function verifyJwt(
  token: string,
  secret: string,
  now: number,
  skewSeconds = 60,
): Promise<Claims> {
  const parts = token.split(".");
  if (parts.length !== 3) throw invalid("The token is not a JWT");
  const [head, body, signature] = parts as [string, string, string];
  let header: { alg?: unknown };
  let claims: Partial<Claims>;
  let mac: Uint8Array;
  try {
    header = JSON.parse(new TextDecoder().decode(fromBase64url(head)));
    claims = JSON.parse(new TextDecoder().decode(fromBase64url(body)));
    mac = fromBase64url(signature);
  } catch {
    throw invalid("The token is malformed");
  }
  if (header?.alg !== "HS256") throw invalid("Only HS256 tokens are accepted");
  const valid = await crypto.subtle.verify(
    "HMAC",
    await key(secret, "verify"),
    mac as Uint8Array<ArrayBuffer>,
    encoder.encode(`${head}.${body}`),
  );
  if (!valid) throw invalid("The token's signature is invalid");
  if (typeof claims !== "object" || claims === null) throw invalid("The token is malformed");
  for (const claim of ["exp", "nbf"] as const) {
    if (claims[claim] !== undefined && typeof claims[claim] !== "number") {
      throw invalid(`The token's ${claim} is not a number`);
    }
  }
  if (typeof claims.exp === "number" && now > claims.exp + skewSeconds) {
    throw invalid("The token has expired");
  }
  if (typeof claims.nbf === "number" && now + skewSeconds < claims.nbf) {
    throw invalid("The token is not valid yet");
  }
  if (typeof claims.sub !== "string" || claims.sub === "" || claims.sub.length > 256) {
    throw invalid("The token has no subject (sub)");
  }
  return claims as Claims;
}

function invalid(message: string): UploadError {
  return new UploadError(401, "invalid-token", message);
}
