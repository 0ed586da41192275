/**
 * Hot paths of the server core. Run: deno task bench. Each group has a baseline measured in the
 * same run, so results read as ratios (not absolute speeds, which vary 30% between runs here).
 */
import { newUploadId } from "../lib/ids.ts";
import { encodeMetadata, parseMetadataHeader } from "../lib/metadata.ts";
import { parseHeaderInteger } from "../lib/protocol.ts";
import { FileStore } from "../server/store/file/file_store.ts";
import { limitedAppend } from "../server/store/limited_append.ts";

const dir = await Deno.makeTempDir({ prefix: "resumable-bench-" });
const store = await FileStore.open(dir);
const never = new AbortController().signal;

for (const size of [64 * 1024, 1024 * 1024, 8 * 1024 * 1024]) {
  const chunk = crypto.getRandomValues(new Uint8Array(Math.min(size, 65536)));
  const label = `${size / 1024} KiB`;
  /** The body as the network delivers it: 64 KiB pieces. */
  const body = () => {
    let left = size;
    return new ReadableStream<Uint8Array>({
      pull(c) {
        if (left <= 0) return c.close();
        const n = Math.min(left, chunk.length);
        c.enqueue(chunk.subarray(0, n));
        left -= n;
      },
    });
  };
  Deno.bench({
    name: `write + fdatasync ${label} (limit)`,
    group: `append ${label}`,
    baseline: true,
    async fn() {
      using f = await Deno.open(`${dir}/raw`, { write: true, create: true, truncate: true });
      for (let left = size; left > 0; left -= chunk.length) {
        await f.write(chunk.subarray(0, Math.min(left, chunk.length)));
      }
      await f.syncData();
    },
  });
  Deno.bench({
    name: `FileStore.append ${label}`,
    group: `append ${label}`,
    async fn(b) {
      const id = newUploadId();
      await store.create({ id, metadata: "", createdAt: 0 });
      b.start();
      await limitedAppend(store, id, 0, body(), { maxBytes: size, signal: never });
      b.end();
      await store.remove(id);
    },
  });
}

const header = encodeMetadata({ filename: "holiday video.mp4", filetype: "video/mp4", n: "1" });
Deno.bench({
  name: "parseHeaderInteger",
  group: "parse",
  baseline: true,
  fn: () => void parseHeaderInteger("Upload-Offset", "123456789"),
});
Deno.bench({
  name: "parseMetadataHeader (3 pairs)",
  group: "parse",
  fn: () => void parseMetadataHeader(header),
});

globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
