import assert from "node:assert/strict";
import type { ResumeRecord } from "./resume_store.ts";
import {
  blobFingerprint,
  type KeyValueStorage,
  RESUME_PREFIX,
  WebStorageResumeStore,
} from "./web_storage_resume_store.ts";

const record = (url: string, createdAt: number): ResumeRecord => ({
  url,
  endpoint: "http://h/files",
  size: 10,
  createdAt,
  path: "a.bin",
});

Deno.test("WebStorageResumeStore keeps, lists and forgets records in real Web Storage", async () => {
  sessionStorage.clear();
  sessionStorage.setItem("unrelated", "x");
  const store = new WebStorageResumeStore(sessionStorage);
  assert.equal(await store.get("f1"), undefined);
  await store.set("f2", record("http://h/files/2", 2));
  await store.set("f1", record("http://h/files/1", 1));
  assert.deepEqual(await store.get("f1"), record("http://h/files/1", 1));
  assert.equal(
    sessionStorage.getItem(RESUME_PREFIX + "f1"),
    JSON.stringify(record("http://h/files/1", 1)),
  );
  assert.deepEqual(store.list().map((e) => e.fingerprint), ["f1", "f2"]);
  await store.delete("f1");
  assert.equal(await store.get("f1"), undefined);
  assert.deepEqual(store.list().map((e) => e.fingerprint), ["f2"]);
  assert.equal(sessionStorage.getItem("unrelated"), "x");
  sessionStorage.clear();
});

Deno.test("WebStorageResumeStore ignores malformed items and survives a storage that refuses", async () => {
  const items = new Map<string, string>([
    [RESUME_PREFIX + "bad-json", "{"],
    [RESUME_PREFIX + "bad-shape", JSON.stringify({ url: 1 })],
  ]);
  const full: KeyValueStorage = {
    get length() {
      return items.size;
    },
    key: (i) => [...items.keys()][i] ?? null,
    getItem: (k) => items.get(k) ?? null,
    setItem: () => {
      throw new DOMException("The quota has been exceeded.", "QuotaExceededError");
    },
    removeItem: (k) => void items.delete(k),
  };
  const store = new WebStorageResumeStore(full);
  assert.equal(await store.get("bad-json"), undefined);
  assert.equal(await store.get("bad-shape"), undefined);
  assert.deepEqual(store.list(), []);
  await store.set("f", record("http://h/files/1", 1)); // resolves: resuming is lost, not the upload
  assert.equal(await store.get("f"), undefined);
});

Deno.test("blobFingerprint changes with the name, size, lastModified and endpoint", () => {
  const file = { name: "a.bin", size: 10, lastModified: 1000 };
  const base = blobFingerprint(file, "http://h/files");
  assert.equal(blobFingerprint({ ...file }, "http://h/files"), base);
  for (
    const other of [
      blobFingerprint({ ...file, name: "b.bin" }, "http://h/files"),
      blobFingerprint({ ...file, size: 11 }, "http://h/files"),
      blobFingerprint({ ...file, lastModified: 1001 }, "http://h/files"),
      blobFingerprint(file, "http://other/files"),
    ]
  ) assert.notEqual(other, base);
});
