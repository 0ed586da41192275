import assert from "node:assert/strict";
import type { Context } from "./context.ts";
import { clientAddress, publicOrigin } from "./forwarded.ts";

function ctx(headers: Record<string, string>, behindProxy = true): Context {
  const req = new Request("http://127.0.0.1:1080/files", { headers });
  return {
    req,
    url: new URL(req.url),
    deps: { config: { behindProxy }, peer: () => "10.0.0.9" },
  } as unknown as Context;
}

Deno.test("publicOrigin takes the outermost proxy's scheme and host, Forwarded first", () => {
  assert.equal(
    publicOrigin(ctx({ forwarded: 'proto=https;host="up.example:8443", proto=http;host=inner' })),
    "https://up.example:8443",
  );
  assert.equal(
    publicOrigin(ctx({ "x-forwarded-proto": "https", "x-forwarded-host": "up.example, inner" })),
    "https://up.example",
  );
  assert.equal(publicOrigin(ctx({ "x-forwarded-host": "bad host/" })), "http://127.0.0.1:1080");
  assert.equal(publicOrigin(ctx({ forwarded: "proto=https" }, false)), "http://127.0.0.1:1080");
});

Deno.test("clientAddress trusts only the entry the server's own proxy added", () => {
  assert.equal(clientAddress(ctx({ "x-forwarded-for": "1.2.3.4, 192.0.2.1" })), "192.0.2.1");
  assert.equal(
    clientAddress(ctx({ forwarded: 'for=1.2.3.4, for="[2001:DB8::1]:4711"' })),
    "2001:db8::1",
  );
  assert.equal(clientAddress(ctx({ forwarded: "for=192.0.2.1:4711" })), "192.0.2.1");
  assert.equal(clientAddress(ctx({})), "10.0.0.9");
  assert.equal(clientAddress(ctx({ "x-forwarded-for": "192.0.2.1" }, false)), "10.0.0.9");
});
