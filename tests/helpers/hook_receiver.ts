/**
 * A webhook receiver for hook tests: a real HTTP server (`Deno.serve` on port 0) that records every
 * request and answers as the test says.
 *
 *     await using receiver = await startHookReceiver((hook, n) => n < 2 ? 500 : 200);
 *     … --hook-url receiver.url …
 *     const [first] = await receiver.waitFor(3);
 */
import { waitFor } from "./wait.ts";

export interface ReceivedHook {
  /** The `Hook-Type` header. */
  type: string | null;
  /** The `Idempotency-Key` header. */
  key: string | null;
  contentType: string | null;
  /** The JSON body. */
  event: Record<string, unknown> & { type: string; eventId: string; id: string };
  /** When it arrived (Date.now()). */
  at: number;
}

/** An answer: a status, or a whole Response. */
export type Answer = number | Response;

export interface HookReceiver extends AsyncDisposable {
  readonly url: string;
  readonly received: ReceivedHook[];
  /** Decides each answer (`n` counts requests from 0); can be replaced mid-test. */
  respond: (hook: ReceivedHook, n: number) => Answer | Promise<Answer>;
  /** Resolves with the requests once at least `count` have arrived. */
  waitFor(count: number, timeoutMs?: number): Promise<ReceivedHook[]>;
}

export async function startHookReceiver(
  respond: HookReceiver["respond"] = () => 200,
): Promise<HookReceiver> {
  const received: ReceivedHook[] = [];
  const ready = Promise.withResolvers<Deno.NetAddr>();
  const receiver = {
    url: "",
    received,
    respond,
    waitFor: (count: number, timeoutMs = 15_000) =>
      waitFor(() => received.length >= count && [...received], {
        timeoutMs,
        message: () => `${count} hook requests (got ${received.length})`,
      }),
  } as HookReceiver & { url: string };
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: (addr) => ready.resolve(addr as Deno.NetAddr),
  }, async (req) => {
    const hook: ReceivedHook = {
      type: req.headers.get("hook-type"),
      key: req.headers.get("idempotency-key"),
      contentType: req.headers.get("content-type"),
      event: await req.json(),
      at: Date.now(),
    };
    const n = received.length;
    received.push(hook);
    const answer = await receiver.respond(hook, n);
    return typeof answer === "number" ? new Response(null, { status: answer }) : answer;
  });
  const addr = await ready.promise;
  receiver.url = `http://127.0.0.1:${addr.port}/hook`;
  receiver[Symbol.asyncDispose] = async () => {
    await server.shutdown();
  };
  return receiver;
}
