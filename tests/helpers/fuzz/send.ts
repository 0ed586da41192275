/** Sending a fuzz request: over a raw socket (any bytes) or fetch, with a deadline. */
import { concatBytes } from "../bytes.ts";
import { RawConnection } from "../raw_http.ts";
import type { TestServer } from "../server.ts";
import { TimeoutError } from "../wait.ts";
import { REQUEST_TIMEOUT_MS } from "./constants.ts";
import type { FuzzRequest } from "./gen.ts";

type Outcome =
  | { kind: "response"; status: number; headers: Headers; text: string }
  | { kind: "dropped"; error: string }
  | { kind: "timeout"; error: string };

const latin1 = (text: string) => Uint8Array.from(text, (c) => c.charCodeAt(0) & 0xff);

function chunked(body: Uint8Array, trailer: string | undefined): Uint8Array {
  const parts: Uint8Array[] = [];
  for (let at = 0; at < body.length;) {
    const n = Math.min(body.length - at, 1 + ((at * 7919) % 70_000));
    parts.push(latin1(`${n.toString(16)}\r\n`), body.subarray(at, at + n), latin1("\r\n"));
    at += n;
  }
  parts.push(latin1(`0\r\n${trailer ? `${trailer}\r\n` : ""}\r\n`));
  return concatBytes(...parts);
}

export async function sendRaw(server: TestServer, req: FuzzRequest): Promise<Outcome> {
  await using conn = await RawConnection.connect(server.url);
  const lines = [`${req.method} ${req.path} HTTP/1.1`, `Host: ${server.hostname}:${server.port}`];
  for (const [k, v] of req.headers) lines.push(`${k}: ${v}`);
  const body = req.body;
  let payload: Uint8Array | undefined;
  switch (req.bodyMode) {
    case "exact":
    case "extra-bytes":
      lines.push(`Content-Length: ${body!.length}`);
      payload = req.bodyMode === "exact"
        ? body
        : concatBytes(body!, latin1("GARBAGE / HTTP/1.1\r\n\r\n"));
      break;
    case "short-close":
    case "short-stall":
      lines.push(`Content-Length: ${body!.length + 1000}`);
      payload = body;
      break;
    case "chunked":
    case "chunked-trailer":
      lines.push("Transfer-Encoding: chunked");
      if (req.bodyMode === "chunked-trailer") lines.push("Trailer: Upload-Checksum");
      payload = chunked(
        body!,
        req.bodyMode === "chunked-trailer" ? "Upload-Checksum: sha1 AAAA" : undefined,
      );
      break;
    case "bad-chunked":
      lines.push("Transfer-Encoding: chunked");
      payload = concatBytes(latin1("zz\r\n"), body!);
      break;
    case "none":
      break;
  }
  if (req.bodyMode !== "short-stall" && req.bodyMode !== "short-close") {
    lines.push("Connection: close");
  }
  const head = latin1(lines.join("\r\n") + "\r\n\r\n");
  const sending = (async () => {
    await conn.write(head);
    if (payload) await conn.write(payload);
    if (req.bodyMode === "short-close") await conn.closeWrite();
  })().catch(() => {}); // the server may answer and close before reading it all
  try {
    const res = await conn.readResponse({ timeoutMs: REQUEST_TIMEOUT_MS, method: req.method });
    return { kind: "response", status: res.status, headers: res.headers, text: res.text() };
  } catch (error) {
    if (error instanceof TimeoutError) return { kind: "timeout", error: String(error) };
    return { kind: "dropped", error: String(error) };
  } finally {
    conn.close();
    await sending;
  }
}

export async function sendFetch(
  server: TestServer,
  client: Deno.HttpClient,
  req: FuzzRequest,
): Promise<Outcome> {
  const headers = new Headers();
  for (const [k, v] of req.headers) headers.append(k, v);
  let body: BodyInit | undefined = req.body;
  if (req.bodyMode === "chunked" && req.body) {
    const bytes = req.body;
    body = new ReadableStream<Uint8Array<ArrayBuffer>>({
      start(controller) {
        for (let at = 0; at < bytes.length; at += 50_000) {
          controller.enqueue(bytes.slice(at, at + 50_000));
        }
        controller.close();
      },
    });
  }
  try {
    const res = await fetch(server.origin + req.path, {
      method: req.method,
      headers,
      client,
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      ...(body === undefined ? {} : { body }),
    });
    const text = res.status >= 400 ? await res.text() : (await res.body?.cancel(), "");
    return { kind: "response", status: res.status, headers: res.headers, text };
  } catch (error) {
    if (error instanceof DOMException && error.name === "TimeoutError") {
      return { kind: "timeout", error: String(error) };
    }
    return { kind: "dropped", error: String(error) };
  }
}
