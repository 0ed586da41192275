import { storeConformance } from "./conformance.ts";
import { MemoryStore } from "./memory_store.ts";

storeConformance("MemoryStore", {
  make: () => Promise.resolve({ store: new MemoryStore(), cleanup: () => Promise.resolve() }),
});
