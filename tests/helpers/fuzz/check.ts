/** Checks after a run: nothing written outside the store's layout, sentinels intact. */
import assert from "node:assert/strict";
import { listFiles, md5, offsetOf } from "../uploads.ts";
import { request, type World } from "./world.ts";

/** Every file under `root` (paths relative to it) except those in the `skip` subtree. */
export async function filesOutside(root: string, skip: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (sub: string) => {
    for await (const entry of Deno.readDir(`${root}${sub}`)) {
      const rel = `${sub}/${entry.name}`;
      if (rel === skip) continue;
      if (entry.isDirectory) await walk(rel);
      else out.push(rel);
    }
  };
  await walk("");
  return out.sort();
}

const LAYOUT = /^([0-9a-f]{2})\/([0-9a-f]{2})\/(([0-9a-f]{2})([0-9a-f]{2})[0-9a-f]{28})(\.info)?$/;

export async function assertStoreLayout(dir: string): Promise<void> {
  const stray: string[] = [];
  for (const file of await listFiles(dir)) {
    const m = LAYOUT.exec(file);
    if (!m || m[1] !== m[4] || m[2] !== m[5]) stray.push(file);
  }
  assert.deepEqual(stray, [], "files in --dir that are not the store's data or info files");
}

export async function assertSentinelsIntact(world: World): Promise<void> {
  for (const s of world.sentinels) {
    const data = await Deno.readFile(world.server.dataPath(s.id));
    assert.equal(data.length, s.content.length, `sentinel "${s.name}": size changed`);
    assert.equal(md5(data), md5(s.content), `sentinel "${s.name}": bytes changed`);
    const head = await request(world, "HEAD", s.path, { "Tus-Resumable": "1.0.0" });
    assert.equal(head.status, 200, `sentinel "${s.name}": HEAD ${head.status}`);
    assert.equal(offsetOf(head.headers), s.content.length, `sentinel "${s.name}": offset`);
    assert.equal(
      head.headers.get("upload-length"),
      s.length === undefined ? null : String(s.length),
      `sentinel "${s.name}": length`,
    );
  }
}
