/**
 * The upload core's `Hashing` for the browser: MD5 + SHA-256 streamed to one shared Web Worker
 * (`hash_worker.ts`), so hashing a big file never blocks the page. Bytes are copied to the worker
 * (the core sends the same buffer as the PATCH body, so it can't be transferred) and at most
 * `IN_FLIGHT` bytes per file wait there: `update` resolves once the worker has caught up enough.
 * No per-chunk checksums: the whole-file digest is compared with the server's at the end.
 */
import type { Digests } from "../lib/digest_header.ts";
import type { RunningDigest } from "../lib/deno/digest_pool.ts";
import type { Hashing } from "../client/core/upload_core.ts";
import type { HashReply, HashRequest } from "./hash_worker.ts";

const IN_FLIGHT = 16 * 1024 * 1024;
/** Bytes per message: a 16 MiB chunk goes in pieces so the bound is meaningful. */
const PIECE = 4 * 1024 * 1024;

interface State {
  inFlight: number;
  resume?: () => void;
  done?: (digests: Digests) => void;
  fail?: (error: Error) => void;
  /** Set when the worker died: every later call on this state throws it. */
  error?: Error;
}

/** Hashing on a worker started (once, on first use) from `url`; `close` ends the worker. */
export function workerHashing(url: string | URL): Hashing & { close(): void } {
  let worker: Worker | undefined;
  const states = new Map<number, State>();
  let nextKey = 1;

  const shared = (): Worker => {
    if (worker) return worker;
    const w = new Worker(url, { type: "module" });
    w.onmessage = ({ data: m }: MessageEvent<HashReply>) => {
      const state = states.get(m.key);
      if (!state) return;
      if (m.op === "ack") {
        state.inFlight -= m.n;
        if (state.inFlight <= IN_FLIGHT / 2) state.resume?.();
      } else {
        states.delete(m.key);
        state.done?.({ md5: m.md5, sha256: m.sha256 });
      }
    };
    w.onerror = (event) => {
      event.preventDefault();
      const error = new Error(`The hashing worker failed: ${event.message || "could not load"}`);
      for (const state of states.values()) {
        state.error = error;
        state.fail?.(error);
        state.resume?.();
      }
      states.clear();
      w.terminate();
      if (worker === w) worker = undefined;
    };
    worker = w;
    return w;
  };
  const send = (message: HashRequest) => shared().postMessage(message);

  const digest = (): RunningDigest => {
    const key = nextKey++;
    const state: State = { inFlight: 0 };
    states.set(key, state);
    let length = 0;
    let dropped = false;
    return {
      get length() {
        return length;
      },
      async update(bytes) {
        for (let at = 0; at < bytes.length && !dropped; at += PIECE) {
          if (state.error) throw state.error;
          const piece = bytes.slice(at, at + PIECE); // a copy, transferred
          length += piece.length;
          state.inFlight += piece.length;
          shared().postMessage({ op: "update", key, bytes: piece } satisfies HashRequest, [
            piece.buffer,
          ]);
          if (state.inFlight > IN_FLIGHT) {
            await new Promise<void>((resolve) => state.resume = resolve);
            delete state.resume;
            if (state.error) throw state.error;
          }
        }
      },
      digest() {
        if (dropped) return Promise.reject(new Error("The digest was dropped"));
        if (state.error) return Promise.reject(state.error);
        return new Promise<Digests>((resolve, reject) => {
          state.done = resolve;
          state.fail = reject;
          send({ op: "digest", key });
        });
      },
      drop() {
        dropped = true;
        states.delete(key);
        state.resume?.();
        worker?.postMessage({ op: "drop", key } satisfies HashRequest);
      },
    };
  };

  return {
    digest,
    close() {
      worker?.terminate();
      worker = undefined;
      states.clear();
    },
  };
}
