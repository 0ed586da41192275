/** Commands that take a FILE open it through here, so a missing one is bad usage everywhere. */
import { type FileSource, openFileSource } from "../file_source.ts";
import { usage } from "./flags.ts";

/** Runs `fn` with FILE opened as a source (closed afterwards); a missing file is bad usage. */
export async function withFile<T>(
  path: string,
  fn: (source: FileSource) => Promise<T>,
): Promise<T> {
  let source: FileSource;
  try {
    source = await openFileSource(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) usage(`File not found: ${path}`);
    throw error;
  }
  try {
    return await fn(source);
  } finally {
    source.close?.();
  }
}
