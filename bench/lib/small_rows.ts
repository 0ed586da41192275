/**
 * The many-small-uploads rows: bench/small_uploads.ts drives ours or the peer, and every stored
 * file is checked against the body it was sent.
 */
import { createHash } from "node:crypto";
import { smallBody, type SmallUploadsReport } from "../small_uploads.ts";
import { startPeer } from "./peers.ts";
import { BENCH, tail, timed } from "./process.ts";
import type { Row } from "./row.ts";
import { startOurs } from "./servers.ts";
import { idOf, VerifyError } from "./verify.ts";

export function smallRow(which: "ours" | "peer"): Row {
  return {
    key: `small-${which}`,
    label: which === "ours" ? "ours (main.ts server --max-active 64)" : "@tus/server + file-store",
    section: "small",
    ...(which === "peer" ? { needsPeer: true } : { peer: "small-peer" }),
    async run(scope, env) {
      // 16 bodies in flight would exceed the default --max-active 10 (503s): lift it.
      const server = which === "ours"
        ? await startOurs(scope, ["--max-active", "64"])
        : await startPeer(scope, env.peer!);
      const r = await timed(scope, Deno.execPath(), [
        "run",
        "--allow-net=127.0.0.1",
        `${BENCH}/small_uploads.ts`,
        "--url",
        server.url,
        "--count",
        String(env.smallCount),
        "--size",
        String(env.smallSize),
        "--concurrency",
        String(env.concurrency),
      ]);
      if (r.code !== 0) throw new Error(`small_uploads.ts exited ${r.code}: ${tail(r.stderr)}`);
      const report: SmallUploadsReport = JSON.parse(r.stdout);
      if (report.errors.length > 0) {
        throw new Error(`${report.errors.length}+ uploads failed, e.g. ${report.errors[0]}`);
      }
      const serverRss = server.peakRss();
      for (let i = 0; i < env.smallCount; i++) {
        const path = server.dataPath(idOf(report.urls[i]!));
        let bytes: Uint8Array;
        try {
          bytes = await Deno.readFile(path);
        } catch {
          throw new VerifyError(`verification: upload ${i} has no data file ${path}`);
        }
        const want = createHash("md5").update(smallBody(i, env.smallSize)).digest("hex");
        const got = createHash("md5").update(bytes).digest("hex");
        if (got !== want) {
          throw new VerifyError(`verification: upload ${i}: MD5 ${got}, expected ${want}`);
        }
      }
      return { value: env.smallCount / report.seconds, server: serverRss, client: r.peakRss };
    },
  };
}
