/**
 * The loopback limit for bench/e2e.ts: a `Deno.serve` that reads every request body, discards it,
 * and answers with the number of bytes it read (so the row can check the count).
 * Usage: deno run --allow-net=127.0.0.1 bench/sink.ts — prints `listening on http://HOST:PORT/`.
 */
Deno.serve({
  hostname: "127.0.0.1",
  port: 0,
  onListen: ({ hostname, port }) => console.log(`listening on http://${hostname}:${port}/`),
}, async (req) => {
  let bytes = 0;
  if (req.body) { for await (const chunk of req.body) bytes += chunk.length; }
  return new Response(String(bytes));
});
