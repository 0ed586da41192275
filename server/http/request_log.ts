/**
 * The request log line and request metrics, written once the response has been sent — or
 * abandoned — so they can say how many body bytes went out. A request whose client closed the
 * connection before its answer was sent (a paused upload: its body ends early and the 400 has
 * nowhere to go; a download the client stopped reading) is logged and counted as 499, as nginx
 * does, apart from the 4xx answers clients actually got.
 */
import type { RequestMeta } from "./context.ts";
import type { Deps } from "./deps.ts";

/** The status logged and counted for a client that closed the connection first. */
export const CLIENT_CLOSED = 499;

/** Longest user agent logged, in characters. */
const USER_AGENT_MAX = 200;

export interface RequestRecord {
  req: Request;
  /** The effective method (after X-HTTP-Method-Override). */
  method: string;
  requestId: string;
  /** `performance.now()` when the request arrived. */
  started: number;
  meta: RequestMeta;
}

/**
 * `response`, its body wrapped to count the bytes handed to the connection; the log line and
 * metrics are written when the body ends or is cancelled (at once when there is none).
 */
export function logWhenSent(response: Response, record: RequestRecord, deps: Deps): Response {
  const body = response.body;
  if (body === null || record.req.method === "HEAD") {
    finish(response.status, 0, record, deps);
    return response;
  }
  const reader = body.getReader();
  let sent = 0;
  let finished = false;
  const done = (status: number, error?: unknown) => {
    if (finished) return;
    finished = true;
    finish(status, sent, record, deps, error);
  };
  const counted = new ReadableStream<Uint8Array>({
    async pull(controller) {
      let next;
      try {
        next = await reader.read();
      } catch (error) {
        done(response.status, error);
        controller.error(error);
        return;
      }
      if (next.done) {
        done(response.status);
        controller.close();
        return;
      }
      sent += next.value.byteLength;
      controller.enqueue(next.value);
    },
    async cancel(reason) {
      done(CLIENT_CLOSED);
      await reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
  return new Response(counted, {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
}

function finish(
  status: number,
  sent: number,
  { req, method, requestId, started, meta }: RequestRecord,
  deps: Deps,
  error?: unknown,
): void {
  if (meta.clientClosed) status = CLIENT_CLOSED;
  const seconds = (performance.now() - started) / 1000;
  deps.metrics.requests.add(1, { method, status: String(status) });
  deps.metrics.requestDuration.observe(seconds);
  deps.metrics.bytesSent.add(sent);
  const client = deps.peer?.(req);
  const agent = req.headers.get("user-agent");
  const forwarded = deps.config.behindProxy ? forwardedFor(req) : undefined;
  // Path and ids only: no other header values (tokens) and no metadata (it may hold secrets).
  deps.log("info", "request", {
    method,
    path: new URL(req.url).pathname,
    status,
    bytes_received: meta.bytes,
    bytes_sent: sent,
    duration_ms: Math.round(seconds * 1000),
    ...(meta.uploadId ? { upload_id: meta.uploadId } : {}),
    request_id: requestId,
    ...(client ? { client } : {}),
    ...(forwarded ? { forwarded_for: forwarded } : {}),
    ...(agent ? { user_agent: agent.slice(0, USER_AGENT_MAX) } : {}),
    ...(error === undefined
      ? {}
      : { error: error instanceof Error ? error.message : String(error) }),
  });
}

/** The original client's address as a trusted proxy reports it (`X-Forwarded-For`, `Forwarded`). */
function forwardedFor(req: Request): string | undefined {
  let value = req.headers.get("x-forwarded-for")?.split(",")[0]?.trim();
  if (!value) {
    const first = req.headers.get("forwarded")?.split(",")[0] ?? "";
    value = /(?:^|;)\s*for="?([^";,]+)"?/i.exec(first)?.[1]?.trim();
  }
  return value && /^[0-9A-Za-z.:\[\]_-]{1,64}$/.test(value) ? value : undefined;
}
