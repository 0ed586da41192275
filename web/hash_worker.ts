/**
 * The page's hashing worker: running MD5 + SHA-256 states, keyed, fed by messages, in plain
 * JavaScript (`@noble/hashes`). WebCrypto can't hash a stream, and it is missing outside secure
 * contexts (a plain-http LAN address), so it is not used. Every update is acknowledged so the
 * page can bound the bytes in flight. Bundled to `ui/hash_worker.js`; Deno runs it as is in tests.
 */
import { md5 } from "@noble/hashes/legacy.js";
import { sha256 } from "@noble/hashes/sha2.js";

export type HashRequest =
  | { op: "update"; key: number; bytes: Uint8Array }
  | { op: "digest"; key: number }
  | { op: "drop"; key: number };

export type HashReply =
  | { op: "ack"; key: number; n: number }
  | { op: "digest"; key: number; md5: string; sha256: string };

const states = new Map<
  number,
  { md5: ReturnType<typeof md5.create>; sha256: ReturnType<typeof sha256.create> }
>();

function base64(bytes: Uint8Array): string {
  let text = "";
  for (const b of bytes) text += String.fromCharCode(b);
  return btoa(text);
}

/** The worker's global scope, typed here so this file needs neither the DOM nor a worker lib. */
const scope = self as unknown as {
  onmessage: ((event: MessageEvent<HashRequest>) => void) | null;
  postMessage(message: HashReply): void;
};

function reply(message: HashReply): void {
  scope.postMessage(message);
}

scope.onmessage = ({ data: message }) => {
  if (message.op === "drop") {
    states.delete(message.key);
    return;
  }
  let state = states.get(message.key);
  if (!state) {
    state = { md5: md5.create(), sha256: sha256.create() };
    states.set(message.key, state);
  }
  if (message.op === "update") {
    state.md5.update(message.bytes);
    state.sha256.update(message.bytes);
    reply({ op: "ack", key: message.key, n: message.bytes.length });
  } else {
    states.delete(message.key);
    reply({
      op: "digest",
      key: message.key,
      md5: base64(state.md5.digest()),
      sha256: base64(state.sha256.digest()),
    });
  }
};
