// The peer server for bench/e2e.ts: @tus/server + @tus/file-store under Node's own http server.
// Usage: node server.mjs DIR  — prints `listening on http://127.0.0.1:PORT/files` once ready.
// The file store keeps an upload's bytes in DIR/<id> (and its info in DIR/<id>.json); it never
// fsyncs. e2e.ts copies this file next to a node_modules installed with npm at bench time.
import http from "node:http";
import { Server } from "@tus/server";
import { FileStore } from "@tus/file-store";

const dir = process.argv[2];
if (!dir) {
  console.error("usage: node server.mjs DIR");
  process.exit(2);
}
const tus = new Server({ path: "/files", datastore: new FileStore({ directory: dir }) });
const server = http.createServer((req, res) => tus.handle(req, res));
server.listen(0, "127.0.0.1", () => {
  const { port } = server.address();
  console.log(`listening on http://127.0.0.1:${port}/files`);
});
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => process.exit(0));
