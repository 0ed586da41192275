/**
 * A hashing thread of `digest_pool.ts`: running MD5 and/or SHA-256 states, keyed, fed pieces of
 * shared memory. Every update is acknowledged (by piece) so the sender can reuse the piece and
 * bound the bytes in flight. MD5 is libcrypto's where FFI allows (`md5_native.ts`).
 */
/// <reference lib="deno.worker" />
import { createHash, type Hash } from "node:crypto";
import { createMd5, type Md5 } from "./md5_native.ts";

export type Algorithm = "md5" | "sha256";

export type WorkerRequest =
  | { op: "update"; key: number; algorithms: Algorithm[]; bytes: Uint8Array; piece: number }
  | { op: "digest"; key: number; algorithms: Algorithm[] }
  | { op: "drop"; key: number };

export type WorkerReply =
  | { op: "ack"; piece: number }
  | { op: "digest"; key: number; md5?: string; sha256?: string; worker: string };

interface State {
  md5?: Md5;
  sha256?: Hash;
}

const states = new Map<number, State>();

self.onmessage = ({ data: message }: MessageEvent<WorkerRequest>) => {
  if (message.op === "drop") {
    states.delete(message.key);
    return;
  }
  let state = states.get(message.key);
  if (!state) states.set(message.key, state = {});
  if (message.op === "update") {
    for (const algorithm of message.algorithms) {
      if (algorithm === "md5") (state.md5 ??= createMd5()).update(message.bytes);
      else (state.sha256 ??= createHash("sha256")).update(message.bytes);
    }
    self.postMessage({ op: "ack", piece: message.piece } satisfies WorkerReply);
    return;
  }
  states.delete(message.key);
  const wants = new Set(message.algorithms); // (a state fed no bytes has no hash yet)
  self.postMessage(
    {
      op: "digest",
      key: message.key,
      ...(wants.has("md5") ? { md5: (state.md5 ?? createMd5()).digest() } : {}),
      ...(wants.has("sha256")
        ? { sha256: (state.sha256 ?? createHash("sha256")).digest("base64") }
        : {}),
      worker: self.name,
    } satisfies WorkerReply,
  );
};
