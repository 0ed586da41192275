/**
 * `resumable server --print-config`: the effective settings as a `--config` file (flag names and
 * the values as given, so the output can be saved and read back), and, for stderr, where each came
 * from. A value that holds a secret (a secret flag, a URL with a password or token, a command's
 * arguments) is left out of the file and only named, redacted, in the notes.
 */
import type { OptionSpec, RawValue } from "./config_sources.ts";
import { redactConfig } from "./config_redact.ts";

export interface PrintedConfig {
  /** JSON text, a valid `--config` file. */
  file: string;
  /** Where each setting came from, one line each; the secrets left out say so. */
  notes: string;
}

export function printConfig(
  specs: Readonly<Record<string, OptionSpec>>,
  values: Readonly<Record<string, RawValue | undefined>>,
  sources: Readonly<Record<string, string>>,
): PrintedConfig {
  const file: Record<string, RawValue> = {};
  const width = Math.max(...Object.keys(specs).map((name) => name.length));
  const notes = ["where each setting came from (flag > env > file > default):"];
  for (const [name, spec] of Object.entries(specs)) {
    const value = values[name];
    let note = `  ${name.padEnd(width)}  ${sources[name] ?? "default"}`;
    if (value !== undefined) {
      // The redaction rules key on names like `authSecret` and `onFinish`.
      const key = name.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
      const shown = redactConfig({ [key]: value })[key];
      if (spec.secret || JSON.stringify(shown) !== JSON.stringify(value)) {
        note += `; left out of the file: it holds a secret (${JSON.stringify(shown)})`;
      } else {
        file[name] = value;
      }
    }
    notes.push(note);
  }
  return { file: JSON.stringify(file, null, 2), notes: notes.join("\n") };
}
