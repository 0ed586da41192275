import { resolveServerCommand, SERVER_ENV_VARS } from "./server/config/config.ts";
import { SERVER_USAGE } from "./server/config/usage.ts";
import { redactUrls } from "./server/config/config_redact.ts";
import { SERVER_OPTIONS } from "./server/config/flags.ts";
import { printConfig } from "./server/config/print_config.ts";
import { envVar } from "./lib/deno/env.ts";
import { mintToken, TOKEN_USAGE } from "./server/token_cli.ts";

import { VERSION } from "./lib/version.ts";

export { VERSION };

const USAGE = `resumable ${VERSION}: resumable uploads over HTTP (tus 1.0.0 and a plain dialect)

Usage:
  resumable server [options]   run the upload server (resumable server --help)
  resumable client <command>   upload, generate, status, download (resumable client --help)
  resumable token --sub NAME   mint a bearer token for a server with --auth-secret
  resumable --help             show this help
  resumable --version          print the version`;

/** The only place that decides exit codes: 0 ok, 2 bad usage, 1 failure. */
export async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  switch (command) {
    case "--version":
    case "-V":
      console.log(VERSION);
      return 0;
    case "--help":
    case "-h":
    case "help":
      console.log(USAGE);
      return 0;
    case "server": {
      let command;
      try {
        command = resolveServerCommand(
          rest,
          Object.fromEntries(SERVER_ENV_VARS.map((name) => [name, envVar(name)])),
          (path) => Deno.readTextFileSync(path),
        );
      } catch (error) {
        return configError(error);
      }
      if (command.action === "help") {
        console.log(SERVER_USAGE);
        return 0;
      }
      if (command.action === "print") {
        const printed = printConfig(SERVER_OPTIONS, command.values, command.sources);
        console.log(printed.file);
        console.error(printed.notes);
        return 0;
      }
      try {
        // Loaded here, not at the top: the server's module graph (S3, PostgreSQL clients) is
        // tens of MiB of heap that a client run never needs.
        const { runServer } = await import("./server/cli.ts");
        await runServer(command.config);
      } catch (error) {
        // Settings found wrong only when starting (S3 credentials, --on-finish permission).
        if (error instanceof RangeError) return configError(error);
        throw error;
      }
      return 0;
    }
    case "client": {
      const { runClient } = await import("./client/cli.ts");
      return await runClient(rest);
    }
    case "token": {
      let token;
      try {
        token = await mintToken(
          rest,
          { RESUMABLE_AUTH_SECRET: envVar("RESUMABLE_AUTH_SECRET") },
          Date.now(),
        );
      } catch (error) {
        return usageError(error, TOKEN_USAGE);
      }
      console.log(token === "help" ? TOKEN_USAGE : token);
      return 0;
    }
    case undefined:
      return usageError(new Error("Missing command"), USAGE);
    default:
      return usageError(new Error(`Unknown command ${JSON.stringify(command)}`), USAGE);
  }
}

/** A bad server setting: one line (a bad flag points at --help), exit 2. */
function configError(error: unknown): number {
  const message = (error instanceof Error ? error.message : String(error)).replace(
    /\s*\n\s*/g,
    " ",
  );
  console.error(`error: ${redactUrls(message)}`);
  return 2;
}

function usageError(error: unknown, usage: string): number {
  const message = error instanceof Error ? error.message : String(error);
  console.error(`error: ${message}\n\n${usage}`);
  return 2;
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (error) {
    console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
    Deno.exit(1);
  }
}
