/** `client download URL OUT`: a completed upload, continuing a partial OUT, verified. */
import { formatBytes } from "../../lib/units.ts";
import { caFetch } from "../ca_fetch.ts";
import { download } from "../download.ts";
import { say } from "../terminal.ts";
import {
  DEADLINE_FLAGS,
  deadlinesOf,
  headersOf,
  parseCommand,
  REQUEST_FLAGS,
  usage,
} from "./flags.ts";
import { defined } from "../../lib/defined.ts";

export async function downloadCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCommand(args, {
    ...REQUEST_FLAGS,
    retries: { type: "string" },
    ...DEADLINE_FLAGS,
  });
  if (positionals.length !== 2) usage("download takes a URL and an OUT file");
  const [url, out] = positionals as [string, string];
  if (!/^https?:\/\//.test(url)) usage(`Invalid URL ${JSON.stringify(url)}`);
  if (values.retries !== undefined && !/^\d{1,3}$/.test(values.retries)) {
    usage(`Invalid --retries ${values.retries}`);
  }
  const result = await download(url, out, {
    headers: headersOf(values.header, values.token),
    ...defined({ fetch: values.ca === undefined ? undefined : await caFetch(values.ca) }),
    ...(values.retries ? { retry: { retries: Number(values.retries) } } : {}),
    deadlines: deadlinesOf(values),
  });
  say(
    `downloaded ${formatBytes(result.size)} to ${out}\n` +
      (result.verified === "digest"
        ? `MD5 ${result.md5} matched\nSHA-256 ${result.sha256} matched (the server's Repr-Digest)`
        : `no digest from the server; MD5 ${result.md5}`),
  );
  return 0;
}
