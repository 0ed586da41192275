import type { KeyValueStorage } from "../client/core/web_storage_resume_store.ts";

/** Web Storage, or a memory stand-in where the browser refuses it (storage disabled). */
export function storageOr(get: () => Storage): KeyValueStorage {
  try {
    const storage = get();
    void storage.length;
    return storage;
  } catch {
    const items = new Map<string, string>();
    return {
      get length() {
        return items.size;
      },
      key: (i) => [...items.keys()][i] ?? null,
      getItem: (k) => items.get(k) ?? null,
      setItem: (k, v) => void items.set(k, v),
      removeItem: (k) => void items.delete(k),
    };
  }
}
