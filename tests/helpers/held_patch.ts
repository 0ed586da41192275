/** A PATCH held open mid-body, to test what a stalled or concurrent body may and may not do. */
import { RawConnection } from "./raw_http.ts";
import type { TestServer } from "./server.ts";
import { fileSize, offsetOf, randomBytes } from "./uploads.ts";
import { waitFor } from "./wait.ts";
import { create, type Created, MiB, OCTETS } from "./safety_http.ts";

/** A 4 MiB upload with a PATCH held open: 1.5 MiB sent (1 MiB of it provably written), then silence. */
interface HeldPatch extends AsyncDisposable {
  upload: Created;
  source: Uint8Array;
  /** Sends the rest of the body and reads the answer. */
  finish(): Promise<{ status: number; offset: number | undefined; text: string }>;
}

export async function holdPatch(server: TestServer, token?: string): Promise<HeldPatch> {
  const source = randomBytes(4 * MiB, 77);
  const upload = await create(server, { "Upload-Length": String(source.length) }, token);
  const conn = await RawConnection.connect(server.url);
  const sent = 1.5 * MiB;
  try {
    await conn.sendHead("PATCH", upload.path, {
      "Content-Type": OCTETS,
      "Upload-Offset": "0",
      "Content-Length": String(source.length),
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
    });
    await conn.write(source.subarray(0, sent));
    // The store writes in 1 MiB pieces: once the first is in the file, the body is being written.
    await waitFor(async () => ((await fileSize(server.dataPath(upload.id))) ?? 0) >= MiB, {
      message: "the held PATCH to reach the data file",
    });
  } catch (error) {
    await conn[Symbol.asyncDispose]();
    throw error;
  }
  return {
    upload,
    source,
    async finish() {
      await conn.write(source.subarray(sent));
      const res = await conn.readResponse({ timeoutMs: 10_000 });
      return { status: res.status, offset: offsetOf(res.headers), text: res.text() };
    },
    async [Symbol.asyncDispose]() {
      await conn[Symbol.asyncDispose]();
    },
  };
}
