import assert from "node:assert/strict";
import { harness, request } from "./test_harness.ts";
import { UI_CSP } from "./ui.ts";

Deno.test("GET / serves the upload page with a same-origin-only CSP, telling it the endpoint", async () => {
  const h = harness({ config: { basePath: "/up" } });
  const res = await h.send(request("GET", "/"));
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "text/html; charset=utf-8");
  assert.equal(res.headers.get("content-security-policy"), UI_CSP);
  assert.match(UI_CSP, /default-src 'none'/);
  assert.doesNotMatch(UI_CSP, /unsafe|\*|https?:/);
  assert.equal(res.headers.get("x-content-type-options"), "nosniff");
  assert.match(res.text, /<meta name="resumable-endpoint" content="\/up">/);
  assert.match(res.text, /<meta name="resumable-auth" content="off">/);
  // Self-contained: every script, style and link is a relative path on this server.
  for (const [, url] of res.text.matchAll(/(?:src|href)="([^"]*)"/g)) {
    assert.match(url!, /^(ui\/[a-z_]+\.(js|css)|data:,)$/, url);
  }
  const head = await h.send(request("HEAD", "/"));
  assert.equal(head.status, 200);
  assert.equal(head.headers.get("content-type"), "text/html; charset=utf-8");
});

Deno.test("the page's assets are served with their types, and need no token even with auth on", async () => {
  const h = harness({ config: { authSecret: "s".repeat(32) } });
  const page = await h.send(request("GET", "/"));
  assert.equal(page.status, 200);
  assert.match(page.text, /<meta name="resumable-auth" content="required">/);
  for (
    const [path, type] of [
      ["/ui/app.js", "text/javascript; charset=utf-8"],
      ["/ui/hash_worker.js", "text/javascript; charset=utf-8"],
      ["/ui/app.css", "text/css; charset=utf-8"],
    ]
  ) {
    const res = await h.send(request("GET", path!));
    assert.equal(res.status, 200, path);
    assert.equal(res.headers.get("content-type"), type, path);
    assert.ok(res.bytes.length > 100, path);
  }
  assert.equal((await h.send(request("GET", "/ui/other.js"))).status, 404);
  assert.equal((await h.send(request("POST", "/ui/app.js"))).status, 404);
  // The uploads themselves still need the token.
  const post = await h.send(request("POST", "/files", { headers: { "Upload-Length": "1" } }));
  assert.equal(post.status, 401);
});

Deno.test("with --no-ui, / and the assets are 404 like any unknown path", async () => {
  const h = harness({ config: { ui: false } });
  for (const path of ["/", "/ui/app.js", "/ui/hash_worker.js", "/ui/app.css"]) {
    const res = await h.send(request("GET", path));
    assert.equal(res.status, 404, path);
    assert.equal(res.headers.get("content-security-policy"), null, path);
  }
});

Deno.test("an endpoint path is escaped into the page's HTML attribute", async () => {
  const h = harness({ config: { basePath: '/a"b<c' } });
  const res = await h.send(request("GET", "/"));
  assert.match(res.text, /content="\/a&#34;b&#60;c"/);
});
