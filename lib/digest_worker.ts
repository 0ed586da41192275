/**
 * The worker behind `offThreadDigest`: running MD5 + SHA-256 states, keyed, fed by messages.
 * Every update is acknowledged so the sender can bound the bytes in flight.
 */
/// <reference lib="deno.worker" />
import { createHash, type Hash } from "node:crypto";

type Message =
  | { op: "update"; key: number; bytes: Uint8Array; n: number }
  | { op: "digest"; key: number }
  | { op: "drop"; key: number };

const states = new Map<number, { md5: Hash; sha256: Hash }>();

self.onmessage = ({ data: message }: MessageEvent<Message>) => {
  if (message.op === "drop") {
    states.delete(message.key);
    return;
  }
  let state = states.get(message.key);
  if (!state) {
    state = { md5: createHash("md5"), sha256: createHash("sha256") };
    states.set(message.key, state);
  }
  if (message.op === "update") {
    const bytes = message.bytes.subarray(0, message.n);
    state.md5.update(bytes);
    state.sha256.update(bytes);
    // The buffer goes back to the sender's pool: memory stays a fixed set of buffers.
    self.postMessage({ op: "ack", key: message.key, n: message.n, bytes: message.bytes }, [
      message.bytes.buffer as ArrayBuffer,
    ]);
  } else {
    states.delete(message.key);
    self.postMessage({
      op: "digest",
      key: message.key,
      md5: state.md5.digest("base64"),
      sha256: state.sha256.digest("base64"),
    });
  }
};
