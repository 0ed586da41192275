/**
 * Interop: curl (the system's, as a child process) against our server in the plain dialect, the
 * way the README shows it: POST (201, Location and a JSON body), HEAD (Upload-Offset), PATCH with
 * a chunked body (`Transfer-Encoding: chunked`, `--data-binary @file`), and a PATCH at a wrong
 * offset (409 with the current Upload-Offset). No request carries `Tus-Resumable`.
 */

import assert from "node:assert/strict";
import { digestsOf, tempDir } from "./helpers/client_cli.ts";
import { outputWithin, startServer, type TestServer } from "./helpers/server.ts";
import { md5, randomBytes } from "./helpers/uploads.ts";

const MiB = 1024 * 1024;

interface CurlResult {
  /** curl's exit code. */
  code: number;
  /** The final response's status (after any `100 Continue`). */
  status: number;
  headers: Headers;
  body: Uint8Array;
  /** curl's `-v` trace: request headers as sent (`> …`), response headers (`< …`). */
  trace: string;
  /** What `-w` asked curl to print. */
  out: string;
}

/**
 * Runs `curl -sS -v -D HEADERS -o BODY …args` and parses the last response it received. Each
 * call writes its header dump and body into a fresh temporary directory under `work`.
 */
async function curl(work: string, args: string[]): Promise<CurlResult> {
  const dir = await Deno.makeTempDir({ dir: work, prefix: "curl-" });
  const headerFile = `${dir}/headers`;
  const bodyFile = `${dir}/body`;
  const child = new Deno.Command("curl", {
    args: ["-sS", "-v", "--max-time", "20", "-D", headerFile, "-o", bodyFile, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const result = await outputWithin(child, 25_000, `curl ${args.join(" ")}`);
  const trace = new TextDecoder().decode(result.stderr);
  const dump = await Deno.readTextFile(headerFile).catch(() => "");
  // One block per response, `100 Continue` first if there was one; the last is the answer.
  const blocks = dump.split(/\r?\n\r?\n/).filter((b) => b.startsWith("HTTP/"));
  const last = blocks.at(-1);
  assert.ok(last, `curl got no response (exit ${result.code})\n${trace}`);
  const [statusLine, ...headerLines] = last.split(/\r?\n/);
  const status = Number(/^HTTP\/[\d.]+ (\d{3})/.exec(statusLine!)?.[1]);
  const headers = new Headers();
  for (const line of headerLines) {
    const i = line.indexOf(":");
    if (i > 0) headers.append(line.slice(0, i).trim(), line.slice(i + 1).trim());
  }
  const body = await Deno.readFile(bodyFile).catch(() => new Uint8Array());
  const out = new TextDecoder().decode(result.stdout);
  return { code: result.code, status, headers, body, trace, out };
}

function text(result: CurlResult): string {
  return new TextDecoder().decode(result.body);
}

function describe(result: CurlResult): string {
  return `status ${result.status}, curl exit ${result.code}\n${text(result)}\n--- trace ---\n` +
    result.trace;
}

/** `curl -X POST -H 'Upload-Length: N' URL`: asserts 201 and the plain JSON body. */
async function create(work: string, server: TestServer, length: number) {
  const res = await curl(work, ["-X", "POST", "-H", `Upload-Length: ${length}`, server.url]);
  assert.equal(res.code, 0, describe(res));
  assert.equal(res.status, 201, describe(res));
  const location = res.headers.get("location");
  assert.ok(location, "201 without Location");
  const url = new URL(location, server.url).href;
  const json = JSON.parse(text(res)) as { id: string; url: string; offset: number };
  return { res, url, json };
}

Deno.test("curl POST creates an upload: 201, Location and a JSON body; curl -I shows its offset", async () => {
  await using server = await startServer();
  await using work = await tempDir();

  const { res, url, json } = await create(work.path, server, 1234);
  assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
  assert.match(json.id, /^[0-9a-f]{32}$/);
  assert.equal(json.url, url, "the body's url is the Location");
  assert.equal(new URL(url).pathname, `/files/${json.id}`);
  assert.equal(json.offset, 0);
  assert.doesNotMatch(res.trace, /^> Tus-Resumable/im, "curl sent no tus header");

  const head = await curl(work.path, ["-I", url]);
  assert.equal(head.code, 0, describe(head));
  assert.equal(head.status, 200, describe(head));
  assert.equal(head.headers.get("upload-offset"), "0");
  assert.equal(head.headers.get("upload-length"), "1234");
  assert.equal(head.headers.get("cache-control"), "no-store");
});

Deno.test("curl PATCH with a chunked body (--data-binary @file) stores the file; HEAD and GET agree", async () => {
  await using server = await startServer();
  await using work = await tempDir();
  const size = 3 * MiB + 77;
  const file = `${work.path}/chunked.bin`;
  const bytes = randomBytes(size, 401);
  await Deno.writeFile(file, bytes);

  const { url, json } = await create(work.path, server, size);
  const res = await curl(work.path, [
    "-X",
    "PATCH",
    "-H",
    "Upload-Offset: 0",
    "-H",
    "Transfer-Encoding: chunked",
    "--data-binary",
    `@${file}`,
    url,
  ]);
  assert.equal(res.code, 0, describe(res));
  assert.match(res.trace, /^> Transfer-Encoding: chunked/im, "curl sent the body chunked");
  assert.doesNotMatch(res.trace, /^> Content-Length/im, "and without a Content-Length");
  assert.equal(res.status, 204, describe(res));
  assert.equal(res.headers.get("upload-offset"), String(size));

  const head = await curl(work.path, ["-I", url]);
  assert.equal(head.status, 200, describe(head));
  assert.equal(head.headers.get("upload-offset"), String(size));
  assert.equal((await digestsOf(server.dataPath(json.id))).md5, md5(bytes), "stored bytes' MD5");

  const get = await curl(work.path, [url]);
  assert.equal(get.status, 200, describe(get));
  assert.equal(md5(get.body), md5(bytes), "MD5 of what curl downloads");
});

Deno.test("curl PATCH at a wrong offset gets 409 with the current Upload-Offset and changes nothing", async () => {
  await using server = await startServer();
  await using work = await tempDir();
  const size = 3000;
  const bytes = randomBytes(size, 402);
  const first = `${work.path}/first.bin`;
  const rest = `${work.path}/rest.bin`;
  await Deno.writeFile(first, bytes.subarray(0, 1000));
  await Deno.writeFile(rest, bytes.subarray(1000));

  const { url, json } = await create(work.path, server, size);
  const ok = await curl(work.path, [
    "-X",
    "PATCH",
    "-H",
    "Upload-Offset: 0",
    "--data-binary",
    `@${first}`,
    url,
  ]);
  assert.equal(ok.status, 204, describe(ok));
  assert.equal(ok.headers.get("upload-offset"), "1000");

  // The rest of the file, but claiming offset 0 again.
  const wrong = await curl(work.path, [
    "-X",
    "PATCH",
    "-H",
    "Upload-Offset: 0",
    "--data-binary",
    `@${rest}`,
    url,
  ]);
  assert.equal(wrong.status, 409, describe(wrong));
  assert.equal(wrong.headers.get("upload-offset"), "1000", "409 carries the committed offset");
  const error = JSON.parse(text(wrong)) as { error?: { code?: unknown; message?: unknown } };
  assert.equal(typeof error.error?.code, "string", `a JSON error body: ${text(wrong)}`);
  assert.equal(typeof error.error?.message, "string");
  const stored = await Deno.readFile(server.dataPath(json.id));
  assert.equal(md5(stored), md5(bytes.subarray(0, 1000)), "nothing was written by the 409");

  const head = await curl(work.path, ["-I", url]);
  assert.equal(head.headers.get("upload-offset"), "1000");

  // At the offset the 409 named, the same bytes complete the upload.
  const resumed = await curl(work.path, [
    "-X",
    "PATCH",
    "-H",
    "Upload-Offset: 1000",
    "--data-binary",
    `@${rest}`,
    url,
  ]);
  assert.equal(resumed.status, 204, describe(resumed));
  assert.equal(resumed.headers.get("upload-offset"), String(size));
  assert.equal(md5(await Deno.readFile(server.dataPath(json.id))), md5(bytes));
});

Deno.test("curl -T of a big file at a wrong offset is refused before it sends a byte; at the right one it gets 100 Continue", async () => {
  await using server = await startServer();
  await using work = await tempDir();
  const size = 3 * MiB + 1000;
  const bytes = randomBytes(size, 403);
  const first = `${work.path}/first.bin`;
  const rest = `${work.path}/rest.bin`;
  await Deno.writeFile(first, bytes.subarray(0, 1000));
  await Deno.writeFile(rest, bytes.subarray(1000));
  const { url, json } = await create(work.path, server, size);
  const patch = (offset: number, file: string) =>
    curl(work.path, [
      "-X",
      "PATCH",
      "-H",
      `Upload-Offset: ${offset}`,
      "-T",
      file,
      "-w",
      "%{size_upload}",
      url,
    ]);
  assert.equal((await patch(0, first)).status, 204);

  // curl asks before sending 3 MiB (`Expect: 100-continue`); the answer is the 409 itself.
  const wrong = await patch(0, rest);
  assert.match(wrong.trace, /^> Expect: 100-continue/im, "curl asked first");
  assert.equal(wrong.status, 409, describe(wrong));
  assert.equal(wrong.headers.get("upload-offset"), "1000");
  assert.doesNotMatch(wrong.trace, /^< HTTP\/1\.1 100/im, "no 100 Continue before the 409");
  assert.equal(wrong.out, "0", "curl sent none of the body");

  const right = await patch(1000, rest);
  assert.match(right.trace, /^< HTTP\/1\.1 100 Continue/im, describe(right));
  assert.equal(right.status, 204, describe(right));
  assert.equal(right.out, String(size - 1000));
  assert.equal((await digestsOf(server.dataPath(json.id))).md5, md5(bytes), "stored bytes' MD5");
});
