import assert from "node:assert/strict";
import { checksumOf } from "../../lib/checksum.ts";
import { testServices } from "../../tests/helpers/services.ts";
import { waitFor } from "../../tests/helpers/wait.ts";
import {
  assertTusError,
  bytes,
  createUpload,
  harness,
  type Reply,
  stored,
  streamPatch,
} from "./handlers/test_harness.ts";
import { PgLocker } from "../lock/pg_locker.ts";
import { connect } from "../store/pg_info.ts";

const services = testServices();

/**
 * A PATCH in flight whose lock lives in a real PostgreSQL session; the session is then ended
 * (pg_terminate_backend on the backend holding the advisory lock). Gives the reply.
 */
async function patchLosingItsLock(
  headers: Record<string, string>,
  sent: Uint8Array,
): Promise<{ reply: Reply; offset?: number }> {
  const locker = await PgLocker.open(services!.pg, { timeoutMs: 3000 });
  const admin = connect(services!.pg, { max: 1 });
  try {
    const h = harness({ locker });
    const id = await createUpload(h, { length: 100 });
    const { body, reply: replying } = streamPatch(h, id, { headers });
    await body.pulled; // reading: the lock is held
    body.push(sent);
    const [holder] = await waitFor(async () => {
      const rows = await admin`
        SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted
          AND objid = (hashtextextended(${id}, 0) & 4294967295)::oid`;
      return rows.length > 0 ? rows : undefined;
    }, { message: "the upload's advisory lock" });
    await admin`SELECT pg_terminate_backend(${holder!.pid})`;
    const reply = await replying;
    body.close();
    const offset = (await stored(h.store, id))?.offset;
    return { reply, ...(offset === undefined ? {} : { offset }) };
  } finally {
    await locker.close().catch(() => {});
    await admin.end({ timeout: 5 });
  }
}

Deno.test({
  name: "a checksummed PATCH whose lock is lost answers 503 lock-lost, not 423 taken over",
  ignore: services === undefined,
  async fn() {
    const whole = bytes(100);
    const { reply, offset } = await patchLosingItsLock(
      { "Upload-Checksum": checksumOf("sha1", whole) },
      whole.subarray(0, 40),
    );
    assertTusError(reply, 503);
    assert.match(reply.text, /lock was lost/);
    assert.equal(reply.headers.get("retry-after"), "1");
    assert.equal(reply.headers.get("upload-offset"), "0", "a checksummed body is all or nothing");
    assert.equal(offset, 0);
  },
});

Deno.test({
  name: "a PATCH without a checksum whose lock is lost answers 503 with what it stored",
  ignore: services === undefined,
  async fn() {
    const { reply, offset } = await patchLosingItsLock({}, bytes(40));
    assertTusError(reply, 503);
    assert.match(reply.text, /lock was lost/);
    assert.equal(reply.headers.get("retry-after"), "1");
    assert.equal(reply.headers.get("upload-offset"), String(offset));
  },
});
