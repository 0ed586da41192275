/**
 * The tasks of deno.json as argv, so that tests and benchmarks start `main.ts` with the flags the
 * tasks give it (permissions, V8 options) instead of a copy of them. No test framework here: the
 * benchmarks import it too.
 */
import denoJson from "../../deno.json" with { type: "json" };

/**
 * A task as argv: `deno` replaced by this Deno, the shell's single quotes removed (a task is one
 * plain command; anything a shell would do more is refused).
 */
export function taskArgv(name: keyof typeof denoJson.tasks): string[] {
  const task: string = denoJson.tasks[name];
  if (/[;&|<>$`"]/.test(task)) throw new Error(`deno.json task ${name} is not a plain command`);
  const [first, ...rest] = task.trim().split(/\s+/).map((arg) => arg.replaceAll("'", ""));
  return [first === "deno" ? Deno.execPath() : first!, ...rest];
}

const SERVER_TASK = taskArgv("server");
/** The `deno run` flags of the `server` task: its permissions and V8 options. */
export const SERVER_TASK_FLAGS = SERVER_TASK.slice(2, SERVER_TASK.indexOf("main.ts"));
/** The permissions the `server` task grants: network, the file system for --dir, its env. */
export const SERVER_PERMISSIONS = SERVER_TASK_FLAGS.filter((flag) => flag.startsWith("--allow-"));
