// The peer client for bench/e2e.ts: tus-js-client under Node, uploading from a file stream.
// Usage: node client.mjs FILE ENDPOINT CHUNK_BYTES  (0 = the whole file in one PATCH)
// Prints one JSON line, {"url": ...}, once the upload succeeded; exits 1 on failure.
import fs from "node:fs";
import path from "node:path";
import * as tus from "tus-js-client";

const [file, endpoint, chunk] = process.argv.slice(2);
if (!file || !endpoint || chunk === undefined) {
  console.error("usage: node client.mjs FILE ENDPOINT CHUNK_BYTES");
  process.exit(2);
}
const chunkSize = Number(chunk) === 0 ? Infinity : Number(chunk);
// An fs.ReadStream with a path: tus-js-client reads each chunk as its own ranged stream.
const upload = new tus.Upload(fs.createReadStream(file), {
  endpoint,
  chunkSize,
  metadata: { filename: path.basename(file), filetype: "application/octet-stream" },
  onError(error) {
    console.error(`upload failed: ${error}`);
    process.exit(1);
  },
  onSuccess() {
    console.log(JSON.stringify({ url: upload.url }));
  },
});
upload.start();
