import assert from "node:assert/strict";
import { FileResumeStore } from "./file_resume_store.ts";

Deno.test("FileResumeStore keeps one record per fingerprint, replaced atomically, no temp files", async () => {
  const dir = await Deno.makeTempDir({ prefix: "resumable-state-" });
  try {
    const store = new FileResumeStore(`${dir}/state`);
    const fp = "f".repeat(64);
    assert.equal(await store.get(fp), undefined);
    const record = { url: "http://x/files/1", endpoint: "http://x/files", size: 5, createdAt: 1 };
    await store.set(fp, record);
    await store.set(fp, { ...record, url: "http://x/files/2" });
    assert.equal((await store.get(fp))?.url, "http://x/files/2");
    assert.deepEqual([...Deno.readDirSync(`${dir}/state`)].map((e) => e.name), [`${fp}.json`]);
    await store.delete(fp);
    await store.delete(fp);
    assert.equal(await store.get(fp), undefined);
    await Deno.writeTextFile(`${dir}/state/${"e".repeat(64)}.json`, "{ torn");
    assert.equal(await store.get("e".repeat(64)), undefined, "a damaged record reads as none");
    await assert.rejects(store.get("../etc/passwd"), RangeError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
