/**
 * What a row checks before its figure counts: the stored file's size and MD5. A row that fails
 * these is reported as FAILED, never as a speed.
 */
import { run } from "./process.ts";

export class VerifyError extends Error {}

export async function md5sum(path: string): Promise<string> {
  const out = await run("md5sum", [path]);
  return out.split(/\s/)[0]!;
}

/** The stored file has the test file's size and MD5. */
export async function verifyFile(path: string, size: number, md5: string): Promise<void> {
  let actual: number;
  try {
    actual = (await Deno.stat(path)).size;
  } catch {
    throw new VerifyError(`verification: ${path} does not exist`);
  }
  if (actual !== size) throw new VerifyError(`verification: ${actual} bytes stored, not ${size}`);
  const got = await md5sum(path);
  if (got !== md5) throw new VerifyError(`verification: MD5 ${got}, expected ${md5}`);
}

/** The upload id at the end of an upload URL. */
export function idOf(url: string): string {
  const id = new URL(url).pathname.split("/").pop() ?? "";
  if (!/^[A-Za-z0-9_-]+$/.test(id)) throw new Error(`unexpected upload URL ${url}`);
  return id;
}
