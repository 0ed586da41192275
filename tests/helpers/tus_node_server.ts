/**
 * A third-party tus server for interop tests: `npm:@tus/server` with `npm:@tus/file-store` (the
 * versions pinned in deno.json), served by `Deno.serve` through the server's `handleWeb`, in a
 * child process of its own so its timers, file handles and sockets never mix with the test's.
 *
 *     await using tus = await startTusNodeServer();
 *     // upload to tus.url (`http://127.0.0.1:PORT/files`); the bytes land in tus.dataPath(id)
 *
 * Run directly (`deno run … tests/helpers/tus_node_server.ts --dir DIR`), this file is the child:
 * it listens on a free loopback port and prints `listening on http://127.0.0.1:PORT/files`.
 * The file store keeps an upload's bytes in `DIR/<id>` and its info in `DIR/<id>.json`. The
 * store offers creation, creation-with-upload, creation-defer-length, termination and expiration:
 * no checksum, no concatenation, and no digests on any response.
 */

import { FileStore } from "@tus/file-store";
import { Server } from "@tus/server";
import { withDeadline } from "./wait.ts";

const SELF = decodeURIComponent(new URL(import.meta.url).pathname);
const REPO = decodeURIComponent(new URL("../..", import.meta.url).pathname);
/** @tus/server reads DEBUG (the `debug` package) and the file store writes DIR. */
const PERMISSIONS = ["--allow-net=127.0.0.1", "--allow-read", "--allow-write", "--allow-env"];
const LISTENING = /^listening on (http:\/\/\S+)$/m;
const BASE_PATH = "/files";

export interface TusNodeServer extends AsyncDisposable {
  /** The upload collection, `http://127.0.0.1:PORT/files`. */
  readonly url: string;
  /** `http://127.0.0.1:PORT`. */
  readonly origin: string;
  /** The temporary directory the file store writes (removed on disposal). */
  readonly dir: string;
  /** Everything the child wrote to stderr so far. */
  readonly stderr: string;
  /** The bytes of an upload: `<dir>/<id>`. */
  dataPath(id: string): string;
  /** The file store's JSON info of an upload: `<dir>/<id>.json`. */
  infoPath(id: string): string;
}

/** Starts @tus/server in a child process; resolves once it is listening. */
export async function startTusNodeServer(timeoutMs = 30_000): Promise<TusNodeServer> {
  const dir = await Deno.makeTempDir({ prefix: "resumable-tus-node-" });
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...PERMISSIONS, SELF, "--dir", dir],
    cwd: REPO,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  let stdout = "";
  let stderr = "";
  const listening = Promise.withResolvers<string>();
  listening.promise.catch(() => {}); // observed below; never unhandled
  const pumps = Promise.all([
    (async () => {
      for await (const text of child.stdout.pipeThrough(new TextDecoderStream())) {
        stdout += text;
        const match = LISTENING.exec(stdout);
        if (match) listening.resolve(match[1]!);
      }
      listening.reject(new Error("stdout closed before the listening line"));
    })(),
    (async () => {
      for await (const text of child.stderr.pipeThrough(new TextDecoderStream())) stderr += text;
    })(),
  ]);
  let exited = false;
  const status = Promise.all([child.status, pumps]).then(([s]) => {
    exited = true;
    return s;
  });
  const stop = async () => {
    if (!exited) {
      try {
        child.kill("SIGKILL");
      } catch { /* already gone */ }
    }
    await status;
  };

  let url: string;
  try {
    url = await withDeadline(listening.promise, timeoutMs, "@tus/server to start listening");
  } catch (error) {
    await stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw new Error(
      `@tus/server did not start (${String(error)})\n--- stdout ---\n${stdout}` +
        `\n--- stderr ---\n${stderr}`,
    );
  }
  return {
    url,
    origin: new URL(url).origin,
    dir,
    get stderr() {
      return stderr;
    },
    dataPath: (id) => `${dir}/${id}`,
    infoPath: (id) => `${dir}/${id}.json`,
    async [Symbol.asyncDispose]() {
      try {
        await stop();
      } finally {
        await Deno.remove(dir, { recursive: true }).catch(() => {});
      }
    },
  };
}

/** The child: serve @tus/server over Deno.serve until killed. */
function serve(dir: string): void {
  const tus = new Server({ path: BASE_PATH, datastore: new FileStore({ directory: dir }) });
  const server = Deno.serve(
    {
      hostname: "127.0.0.1",
      port: 0,
      onListen: ({ hostname, port }) => {
        console.log(`listening on http://${hostname}:${port}${BASE_PATH}`);
      },
    },
    (request) => tus.handleWeb(request),
  );
  Deno.addSignalListener("SIGTERM", () => {
    server.shutdown().finally(() => Deno.exit(0));
  });
}

if (import.meta.main) {
  const i = Deno.args.indexOf("--dir");
  const dir = i >= 0 ? Deno.args[i + 1] : undefined;
  if (dir === undefined) {
    console.error("usage: tus_node_server.ts --dir DIR");
    Deno.exit(2);
  }
  serve(dir);
}
