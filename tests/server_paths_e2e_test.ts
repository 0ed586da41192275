/**
 * End-to-end handling of hostile upload paths. Sent over raw sockets: fetch (like any WHATWG URL
 * user) would normalise dot segments before they reach the server.
 */

import assert from "node:assert/strict";
import { rawRequest } from "./helpers/raw_http.ts";
import { startServer } from "./helpers/server.ts";
import { createUpload, head, listFiles } from "./helpers/uploads.ts";

Deno.test(
  "traversal and malformed upload ids answer 404 or 400, never 500, and create nothing outside --dir",
  async () => {
    await using server = await startServer();
    const upload = await createUpload(server, 10);
    const { id } = upload;
    const paths = [
      "/files/..%2F..%2Fetc%2Fpasswd",
      "/files/..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
      "/files/%2e%2e",
      "/files/%2E%2E/%2E%2E/escape",
      "/files/..",
      "/files/../../escape",
      "/files/a%00b",
      "/files/" + "a".repeat(1000),
      "/files/" + "0".repeat(1000),
      `/files/${id}/../x`,
      `/files/${id}/../../escape`,
      `/files/${id}%2F..%2F..%2Fescape`,
      `/files/${id}/..%2F..%2Fescape`,
      `/files/${id}.info`,
      `/files/${id}%00`,
      `/files/${id.slice(0, 2)}/${id.slice(2, 4)}/${id}`,
      `/files/${id.toUpperCase()}`,
    ];
    const requests: [string, Record<string, string>, string?][] = [
      ["HEAD", {}],
      ["GET", {}],
      [
        "PATCH",
        { "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream" },
        "pwned",
      ],
      ["DELETE", {}],
    ];
    const failures: string[] = [];
    for (const path of paths) {
      for (const [method, headers, body] of requests) {
        for (const dialect of [{}, { "Tus-Resumable": "1.0.0" }]) {
          const res = await rawRequest(server, method, path, {
            headers: { ...headers, ...dialect },
            ...(body === undefined ? {} : { body }),
          });
          // `/files/..` and the like are `/` once parsed: the upload page, for GET and HEAD.
          const page = new URL(path, "http://x").pathname === "/" &&
            (method === "GET" || method === "HEAD") && res.status === 200 &&
            res.headers.get("content-type") === "text/html; charset=utf-8";
          if (res.status !== 404 && res.status !== 400 && !page) {
            failures.push(
              `${method} ${path.slice(0, 60)} ${JSON.stringify(dialect)} → ${res.status}`,
            );
          }
        }
      }
    }
    assert.deepEqual(failures, []);
    assert.doesNotMatch(server.stderr, /"level":"error"/, "a request was logged as a failure");

    // Nothing beside --dir, and nothing in it but the one upload.
    const sub = `${id.slice(0, 2)}/${id.slice(2, 4)}`;
    assert.deepEqual(await listFiles(server.root), [`data/${sub}/${id}`, `data/${sub}/${id}.info`]);
    const intact = await head(server, upload.path);
    assert.equal(intact.status, 200);
    assert.equal(intact.offset, 0);
  },
);
