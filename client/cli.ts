/** `resumable client <command>`: the usage text, and the dispatch to one file per command. */
import { UploadError } from "../lib/errors.ts";
import { warn } from "./terminal.ts";
import { DEFAULT_DEADLINES, seconds } from "./core/deadline.ts";
import { EXIT } from "./commands/exit_codes.ts";
import { DEFAULT_ENDPOINT } from "./commands/flags.ts";

export const CLIENT_USAGE = `Usage: resumable client <command> [options]

Commands:
  upload FILE            upload FILE, resuming an earlier attempt from the server's offset
  generate FILE          write pseudo-random bytes (deterministic for a seed), streamed
  status FILE|URL        the server's offset, length and percent for an upload
  download URL OUT       download a completed upload, continuing a partial OUT, and verify it

upload options:
  --endpoint URL         upload endpoint (default ${DEFAULT_ENDPOINT}, or $RESUMABLE_ENDPOINT)
  --chunk-size SIZE      bytes per PATCH, e.g. 1MiB; "0" = the whole file in one PATCH
                         (default 8MiB)
  --retries N            attempts without progress before giving up (default 8); until the
                         server has answered once, a network failure gets 2 quick retries only
  --response-timeout T   no response head within T after sending a request: cut it, then
                         HEAD and resume (default ${seconds(DEFAULT_DEADLINES.responseMs)})
  --stall-timeout T      no upload progress (or no download bytes) for T: the same
                         (default ${seconds(DEFAULT_DEADLINES.stallMs)}); download takes both too
  --metadata KEY=VALUE   extra Upload-Metadata (repeatable; filename and filetype are set)
  --header "NAME: VALUE" extra request header (repeatable)
  --token TOKEN          bearer token for a server with --auth-secret (or $RESUMABLE_TOKEN;
                         status and download take it too)
  --ca FILE              also trust the PEM CA certificate(s) in FILE for https (a private
                         CA; status and download take it too)
  --state-dir DIR        where unfinished uploads are remembered
                         (default $XDG_STATE_HOME/resumable or ~/.local/state/resumable)
  --protocol P           tus (default), ietf (the IETF resumable-upload draft) or plain
  --ietf-version N       the draft's interop version with --protocol ietf: 3 to 8 (default 8)
  --checksum ALG         Upload-Checksum per PATCH: none (default: the whole-file digests
                         are checked at the end), auto (the fastest the server offers:
                         sha1, then sha256, then md5), md5, sha1 or sha256
  --parallel N           N partial uploads at once, then concatenated (tus concatenation;
                         falls back to one stream where the server lacks it)
  --crash-after F|random kill this process (SIGKILL) once fraction F is acknowledged;
                         random draws F in [0.5, 1) — for testing resume
  --no-progress          no progress bar (it is shown only on a terminal anyway)
  --json                 one JSON event per line on stdout
generate options:
  --size SIZE            how many bytes (required)
  --seed N               seed (default 0)

Exit codes: 0 ok, 1 failure, 2 bad usage, 3 verification mismatch, 4 gave up after retries,
5 refused by the server, 6 file changed during the upload, 130 interrupted (Ctrl-C).`;

/** Runs `client …`; returns the exit code. Errors become one line on stderr. */
export async function runClient(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  // `client upload --help` and the like: the usage, not an unknown flag.
  if (rest.some((a) => a === "--help" || a === "-h") && !rest.includes("--")) {
    console.log(CLIENT_USAGE);
    return 0;
  }
  try {
    // Each command's modules are loaded when it runs: an upload's memory holds no download code.
    switch (command) {
      case "upload":
        return await (await import("./commands/upload.ts")).uploadCommand(rest);
      case "generate":
        return await (await import("./commands/generate.ts")).generateCommand(rest);
      case "status":
        return await (await import("./commands/status.ts")).statusCommand(rest);
      case "download":
        return await (await import("./commands/download.ts")).downloadCommand(rest);
      case "--help":
      case "-h":
      case "help":
        console.log(CLIENT_USAGE);
        return 0;
      default:
        throw new UploadError(
          0,
          "bad-command",
          command === undefined ? "Missing command" : `Unknown command ${JSON.stringify(command)}`,
        );
    }
  } catch (error) {
    return report(error);
  }
}

/** The error as one line on stderr (with the usage where it helps); returns its exit code. */
function report(error: unknown): number {
  if (error instanceof UploadError) {
    warn(`error: ${error.message}`);
    if (error.code === "bad-command") console.error(`\n${CLIENT_USAGE}`);
    return EXIT[error.code] ?? 1;
  }
  if (error instanceof TypeError && "code" in error && String(error.code).startsWith("ERR_PARSE")) {
    console.error(`error: ${error.message}\n\n${CLIENT_USAGE}`);
    return 2;
  }
  if (error instanceof RangeError || error instanceof SyntaxError) {
    console.error(`error: ${error.message}`);
    return 2;
  }
  if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.PermissionDenied) {
    console.error(`error: ${error.message}`);
    return 2;
  }
  console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
  return 1;
}
