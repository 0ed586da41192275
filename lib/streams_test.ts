import assert from "node:assert/strict";
import { concatStreams, peek } from "./streams.ts";

function streamOf(...chunks: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const c of chunks) controller.enqueue(encoder.encode(c));
      controller.close();
    },
  });
}

const text = async (s: ReadableStream<Uint8Array>) => await new Response(s).text();

Deno.test("peek gives the first bytes and a stream of the whole body", async () => {
  const { head, ended, rest } = await peek(
    streamOf("ab", "cd", "ef"),
    3,
    10_000,
    new AbortController().signal,
  );
  assert.equal(new TextDecoder().decode(head), "abc");
  assert.equal(ended, false);
  assert.equal(await text(rest), "abcdef");
});

Deno.test("peek of a body shorter than asked says it ended", async () => {
  const { head, ended, rest } = await peek(streamOf("ab"), 8, 10_000, new AbortController().signal);
  assert.equal(new TextDecoder().decode(head), "ab");
  assert.equal(ended, true);
  assert.equal(await text(rest), "ab");
});

Deno.test("peek stops waiting when its signal aborts", async () => {
  const silent = new ReadableStream<Uint8Array>();
  const stop = new AbortController();
  const peeking = peek(silent, 4, 60_000, stop.signal);
  stop.abort();
  const { head, ended } = await peeking;
  assert.equal(head.length, 0);
  assert.equal(ended, false);
});

Deno.test("concatStreams reads the first stream, then the second", async () => {
  assert.equal(await text(concatStreams(streamOf("a", "b"), streamOf("c"))), "abc");
});
