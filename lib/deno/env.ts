/** An environment variable, where this process may read it (`--allow-env=NAME`); else undefined. */
export function envVar(name: string): string | undefined {
  const granted = Deno.permissions.querySync({ name: "env", variable: name }).state === "granted";
  return granted ? Deno.env.get(name) : undefined;
}
