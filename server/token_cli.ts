import { parseArgs } from "node:util";
import { signJwt } from "../lib/jwt.ts";
import { parseDuration } from "../lib/units.ts";

export const TOKEN_USAGE = `Usage: resumable token --sub NAME [--secret SECRET] [--ttl 1h] [--admin]

Prints an HS256 bearer token for a server started with the same --auth-secret
(or RESUMABLE_AUTH_SECRET). --ttl 0 makes a token that never expires. --admin
adds "admin": true, which lets the token list and see every owner's uploads.`;

/** `token …`: the token for `sub`, signed with the secret. Throws TypeError/RangeError on bad use. */
export async function mintToken(
  args: string[],
  env: Record<string, string | undefined>,
  now: number,
): Promise<string | "help"> {
  const { values, positionals } = parseArgs({
    args,
    strict: true,
    allowPositionals: true,
    options: {
      secret: { type: "string" },
      sub: { type: "string" },
      ttl: { type: "string", default: "1h" },
      admin: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) return "help";
  if (positionals.length > 0) throw new TypeError(`Unexpected argument ${positionals[0]}`);
  const secret = values.secret ?? env["RESUMABLE_AUTH_SECRET"];
  if (!secret || secret.length < 16) {
    throw new RangeError(
      "A --secret (or RESUMABLE_AUTH_SECRET) of at least 16 characters is needed",
    );
  }
  if (!values.sub) throw new RangeError("--sub is required");
  const ttl = parseDuration(values.ttl);
  const iat = Math.floor(now / 1000);
  return await signJwt({
    sub: values.sub,
    iat,
    ...(ttl > 0 ? { exp: iat + Math.round(ttl / 1000) } : {}),
    ...(values.admin ? { admin: true } : {}),
  }, secret);
}
