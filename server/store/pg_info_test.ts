import assert from "node:assert/strict";
import { newUploadId } from "../../lib/ids.ts";
import { testSchema, testServices } from "../../tests/helpers/services.ts";
import { migrate } from "./pg_info.ts";

const services = testServices();

Deno.test({
  name:
    "UploadRows: intended and last recorded part numbers and the part size; the last part of older rows",
  ignore: services === undefined,
  async fn() {
    const schema = await testSchema(services!);
    try {
      const { rows, sql } = schema;
      const upload = { id: newUploadId(), metadata: "", createdAt: 1, length: 100 };
      const row = await rows.insert(upload, 1);
      assert.equal(row.lastPart, 0);
      assert.ok(await rows.intendPart(row.id, 1), "an intended part is recorded as such");
      assert.ok(await rows.intendPart(row.id, 2));
      assert.equal((await rows.get(row.id))?.nextPart, 2);
      const after = await rows.change(row.id, row.version, {
        multipartId: "m",
        partSize: 50,
        parts: [{ part: 1, size: 50, etag: "e1" }],
        updatedAt: 2,
      });
      assert.equal(after?.lastPart, 1);
      assert.equal(after?.partSize, 50);
      assert.equal(after?.nextPart, 2, "part 2 may be in the store, unrecorded");

      // An upload recorded by a schema without these columns (nor any later migration), its
      // part numbers with a gap.
      await sql.unsafe(`ALTER TABLE resumable_uploads DROP COLUMN part_size, DROP COLUMN last_part;
        DROP TABLE resumable_rate_limits;
        DELETE FROM resumable_schema WHERE version >= 3`);
      const old = newUploadId();
      await sql`INSERT INTO resumable_uploads (id, metadata, created_at, updated_at, part_count)
        VALUES (${old}, '', 1, 1, 2)`;
      await sql`INSERT INTO resumable_parts (upload_id, part, size, etag)
        VALUES (${old}, 1, 5, 'a'), (${old}, 3, 5, 'b')`;
      await migrate(sql);
      assert.equal((await rows.get(old))?.lastPart, 3);
      assert.equal((await rows.get(old))?.partSize, undefined);
      assert.ok(!(await rows.intendPart(newUploadId(), 1)), "an unknown upload has no parts");
    } finally {
      await schema.drop();
    }
  },
});
