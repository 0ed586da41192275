/** `client status FILE|URL`: the server's offset, length and percent for an upload. */
import { formatBytes } from "../../lib/units.ts";
import { caFetch } from "../ca_fetch.ts";
import { describeStatus, fetchProgress, summarise } from "../core/upload_status.ts";
import { defaultStateDir, FileResumeStore, finishedStore } from "../file_resume_store.ts";
import { fingerprint } from "../fingerprint.ts";
import { say, warn } from "../terminal.ts";
import { endpointOf, headersOf, parseCommand, REQUEST_FLAGS, usage } from "./flags.ts";
import { withFile } from "./with_file.ts";

export async function statusCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCommand(args, {
    ...REQUEST_FLAGS,
    endpoint: { type: "string" },
    "state-dir": { type: "string" },
    json: { type: "boolean", default: false },
  });
  if (positionals.length !== 1) usage("status takes exactly one FILE or URL");
  const target = positionals[0]!;
  const headers = headersOf(values.header, values.token);
  const fetchFn = values.ca === undefined ? fetch : await caFetch(values.ca);
  let urls = [target];
  if (!/^https?:\/\//.test(target)) {
    const endpoint = endpointOf(values.endpoint);
    const stateDir = values["state-dir"] ?? defaultStateDir();
    const [record, finished] = await withFile(target, async (source) => {
      const fp = await fingerprint(source, { path: source.path, mtime: source.mtime, endpoint });
      return [await new FileResumeStore(stateDir).get(fp), await finishedStore(stateDir).get(fp)];
    });
    if (!record && finished) {
      const when = finished.finishedAt ? `, on ${new Date(finished.finishedAt).toISOString()}` : "";
      if (values.json) {
        const { url, size: length, finishedAt } = finished;
        console.log(JSON.stringify({ url, length, state: "complete", finishedAt }));
      } else say(`finished: ${target} (${formatBytes(finished.size)})${when}\nURL ${finished.url}`);
      return 0;
    }
    if (!record) {
      warn(
        `no upload of ${target} to ${endpoint} is remembered (none unfinished, none finished); ` +
          `upload it with \`client upload ${target}\``,
      );
      return 1;
    }
    // A parallel upload before its final exists: the sum of its parts.
    urls = record.url ? [record.url] : (record.parts ?? []).filter((u) => u !== null);
  }
  const parts = [];
  for (const url of urls) parts.push(await fetchProgress(url, headers, fetchFn));
  const summary = summarise(urls, parts);
  if (values.json) console.log(JSON.stringify(summary));
  else say(describeStatus(summary));
  return 0;
}
