/**
 * A deterministic fuzz test against the live server: thousands of
 * seeded random and adversarial requests — odd methods, traversal/encoded/long/unicode paths,
 * huge, negative, non-canonical, repeated, non-ASCII and control-character header values, garbage
 * Upload-Metadata / Upload-Checksum / Upload-Concat, truncated, stalled, oversized and badly
 * chunked bodies — sent over raw sockets (what fetch can't send) and fetch (the rest): a fixed
 * number of them, however long a loaded machine takes. One run is plain, one with `--auth-secret`.
 *
 * Asserted: no 5xx (a 503 only with Retry-After), no request left hanging, the server never dies
 * and logs no failures, no file appears outside `--dir` (nor in the repository) and everything
 * in it follows the store's layout, the committed bytes of "sentinel" uploads made before the
 * fuzzing never change (fuzz PATCHes target them with wrong offsets, other owners poke at them),
 * and a normal upload still works at the end. The counts by status are printed.
 *
 * Each request is generated from (seed, index) alone, so the request list is the same on every
 * run whatever the interleaving of the concurrent workers. `FUZZ_SEED=N` explores another seed;
 * `FUZZ_DEBUG=STATUS` prints every request answered with that status.
 */

import { fuzz } from "./helpers/fuzz/run.ts";

/** FUZZ_SEED=N explores another seed (the default ones are fixed, so every run sends the same). */
const SEED = Deno.env.get("FUZZ_SEED") === undefined
  ? undefined
  : Number(Deno.env.get("FUZZ_SEED"));

Deno.test("fuzz: thousands of seeded bad requests against a plain server", async () => {
  await fuzz({
    label: "plain",
    seed: SEED ?? 0x5eed_0005,
    requests: 2000,
    auth: false,
  });
});

Deno.test("fuzz: seeded bad requests against a server with --auth-secret", async () => {
  await fuzz({
    label: "auth",
    seed: SEED ?? 0xa11ce_05,
    requests: 1200,
    auth: true,
  });
});
