import assert from "node:assert/strict";
import type { RunningDigest } from "../../../lib/deno/digest_pool.ts";
import { givePiece, PIECE } from "../../../lib/deno/digest_native.ts";
import { DataWriter } from "./data_writer.ts";

/**
 * A running hash that takes each piece only once the test lets it in, and says when a piece is
 * offered; it records the first byte of each piece it took.
 */
function gatedHash(pieces: number) {
  const gates = Array.from({ length: pieces }, () => Promise.withResolvers<void>());
  const offers = Array.from({ length: pieces }, () => Promise.withResolvers<void>());
  const got: number[] = [];
  let length = 0;
  const hash: RunningDigest = {
    get length() {
      return length;
    },
    update: () => Promise.reject(new Error("only pooled pieces are expected here")),
    async adopt(piece) {
      const k = got.length;
      offers[k]!.resolve();
      await gates[k]!.promise;
      got.push(piece[0]!);
      length += piece.length;
      givePiece(piece);
    },
    digest: () => Promise.reject(new Error("not needed")),
    drop() {},
  };
  return {
    hash,
    got,
    offered: (k: number) => offers[k]!.promise,
    letIn: (k: number) => gates[k]!.resolve(),
    letAllIn: () => gates.forEach((g) => g.resolve()),
  };
}

Deno.test("DataWriter: a body that has ended is written and closed without waiting for its last pieces' turn at the hashes", async () => {
  const path = await Deno.makeTempFile();
  const gated = gatedHash(3);
  const events: string[] = [];
  // Only a writer that waits for the hashes needs this: it then finishes after it, and fails.
  const deadline = setTimeout(() => {
    events.push("let in by the deadline");
    gated.letAllIn();
  }, 10_000);
  try {
    using file = await Deno.open(path, { read: true, write: true });
    const out = new DataWriter(file, 0, () => Promise.resolve(gated.hash));
    // Two pieces and a bit, in the 64 KiB chunks a socket gives: copied into pooled pieces.
    const body = new Uint8Array(2 * PIECE + 1000);
    body.fill(1, 0, PIECE);
    body.fill(2, PIECE, 2 * PIECE);
    body.fill(3, 2 * PIECE);
    const pushing = (async () => {
      for (let at = 0; at < body.length; at += 65536) {
        await out.push(body.subarray(at, at + 65536));
      }
    })();
    // While the body arrives, the next piece waits for the last to be in (the hashes' bound).
    await gated.offered(0);
    gated.letIn(0);
    await pushing;
    await gated.offered(1);
    events.push("body in");
    await out.flush();
    events.push("flushed");
    assert.equal(await out.end(), true);
    events.push("ended");
    assert.equal(out.written, body.length);
    assert.deepEqual(await Deno.readFile(path), body);
    assert.deepEqual(gated.got, [1], "the second piece is still waiting, the third behind it");
    gated.letIn(1);
    gated.letIn(2);
    await out.hashing;
    assert.deepEqual(gated.got, [1, 2, 3], "every piece, in order");
    assert.equal(gated.hash.length, body.length);
  } finally {
    clearTimeout(deadline);
    await Deno.remove(path);
  }
  assert.deepEqual(events, ["body in", "flushed", "ended"]);
});
