/**
 * A real, small filesystem for disk-full tests: a fresh tmpfs of a given size (root and mount
 * permitted), unmounted and removed on disposal.
 *
 *     await using fs = await mountTmpfs(4 * MiB);
 *     if (!fs) return; // not permitted here
 *     await fillUp(`${fs.dir}/filler`);
 *     console.log(await freeBytes(fs.dir)); // 0
 */

export interface Tmpfs extends AsyncDisposable {
  /** The mount point. */
  readonly dir: string;
}

/** Runs a command to its end; a missing program is exit code -1. */
async function run(
  command: string,
  args: string[],
): Promise<{ code: number; text: string }> {
  try {
    const out = await new Deno.Command(command, { args, stdout: "piped", stderr: "piped" })
      .output();
    const decoder = new TextDecoder();
    return { code: out.code, text: decoder.decode(out.stdout) + decoder.decode(out.stderr) };
  } catch (error) {
    return { code: -1, text: String(error) };
  }
}

/** Mounts a tmpfs of `bytes`, or says why not (and gives undefined) where mounting is refused. */
export async function mountTmpfs(bytes: number): Promise<Tmpfs | undefined> {
  const root = await Deno.makeTempDir({ prefix: "resumable-tmpfs-" });
  const dir = `${root}/mnt`;
  await Deno.mkdir(dir);
  const mounted = await run("mount", [
    "-t",
    "tmpfs",
    "-o",
    `size=${bytes},mode=0700`,
    "tmpfs",
    dir,
  ]);
  if (mounted.code !== 0) {
    console.log(`mount failed (${mounted.code}): ${mounted.text.trim()}`);
    await Deno.remove(root, { recursive: true }).catch(() => {});
    return undefined;
  }
  return {
    dir,
    async [Symbol.asyncDispose]() {
      const out = await run("umount", [dir]);
      if (out.code !== 0) {
        // Busy for a moment after a server died: lazily detach it instead.
        await run("umount", ["-l", dir]);
      }
      await Deno.remove(root, { recursive: true }).catch(() => {});
    },
  };
}

/** Bytes an unprivileged writer can still put on the filesystem holding `path` (statfs). */
export async function freeBytes(path: string): Promise<number> {
  const out = await run("stat", ["-f", "--format=%a %S", path]);
  const [blocks, size] = out.text.trim().split(" ").map(Number);
  if (out.code !== 0 || !Number.isSafeInteger(blocks) || !Number.isSafeInteger(size)) {
    throw new Error(`stat -f ${path} failed (${out.code}): ${out.text.trim()}`);
  }
  return blocks! * size!;
}

/** Writes `path` until the filesystem refuses (ENOSPC); returns how many bytes went in. */
export async function fillUp(path: string): Promise<number> {
  using file = await Deno.open(path, { write: true, createNew: true });
  const block = new Uint8Array(4096).fill(0x5a);
  let written = 0;
  for (;;) {
    try {
      written += await file.write(block);
    } catch (error) {
      if ((error as { code?: string }).code === "ENOSPC") return written;
      throw error;
    }
  }
}
