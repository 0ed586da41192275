/**
 * Upload info in PostgreSQL, shared by every instance: the schema (created and migrated by the
 * server at start), and the rows the S3 store reads and writes. Every change to an upload's
 * bytes is one conditional UPDATE on its `version`, so a writer that lost its lock (a partition,
 * a dead lock connection) can never record anything over a newer writer's work.
 */
import postgres from "postgres";
import type { Digests } from "../../lib/digest_header.ts";
import type { Concat, Ended, NewUpload } from "./types.ts";
import { defined, present } from "../../lib/defined.ts";

export type Sql = postgres.Sql;

export interface ConnectOptions {
  /** Most connections (default 10). */
  max?: number;
  /** Tables live in this schema (tests); `--db` URLs may say `?search_path=…` instead. */
  schema?: string;
  /** Keep connections for good (no idle timeout, no recycling): sessions that hold locks. */
  lasting?: boolean;
  /** Hears each connection that closes. */
  onclose?: () => void;
}

/**
 * Opens a connection pool. Bigint columns arrive as strings and are converted by hand (ids and
 * sizes fit a double). The password may come from PGPASSWORD (libpq's convention).
 */
export function connect(url: string, options: ConnectOptions = {}): Sql {
  return postgres(url, {
    max: options.max ?? 10,
    onnotice: () => {},
    ...(options.lasting ? { idle_timeout: undefined, max_lifetime: null } : {}),
    ...(options.onclose ? { onclose: options.onclose } : {}),
    ...(options.schema ? { connection: { search_path: options.schema } } : {}),
  });
}

/** Each step runs once, in order, inside one transaction per server start. */
const MIGRATIONS: string[] = [
  `CREATE TABLE resumable_uploads (
     id            text PRIMARY KEY,
     length        bigint,
     metadata      text NOT NULL,
     created_at    bigint NOT NULL,
     updated_at    bigint NOT NULL,
     concat        jsonb,
     owner         text,
     digests       jsonb,
     ended_state   text,
     ended_at      bigint,
     version       bigint NOT NULL DEFAULT 0,
     multipart_id  text,
     parts_bytes   bigint NOT NULL DEFAULT 0,
     part_count    integer NOT NULL DEFAULT 0,
     tail_key      text,
     tail_bytes    bigint NOT NULL DEFAULT 0,
     completed     boolean NOT NULL DEFAULT false
   );
   CREATE INDEX resumable_uploads_ended ON resumable_uploads (ended_at)
     WHERE ended_at IS NOT NULL;
   CREATE TABLE resumable_parts (
     upload_id  text NOT NULL REFERENCES resumable_uploads (id) ON DELETE CASCADE,
     part       integer NOT NULL,
     size       bigint NOT NULL,
     etag       text NOT NULL,
     PRIMARY KEY (upload_id, part)
   );`,
  `ALTER TABLE resumable_uploads ADD COLUMN next_part integer NOT NULL DEFAULT 0;`,
  // Part N of an upload always holds the same bytes (parts of `part_size`, numbered on from
  // `last_part`), so a part uploaded but never recorded is overwritten by the part recorded in
  // its place: no store (Swift keeps parts a completion leaves out) is left holding it.
  `ALTER TABLE resumable_uploads ADD COLUMN part_size bigint,
     ADD COLUMN last_part integer NOT NULL DEFAULT 0;
   UPDATE resumable_uploads u SET last_part = coalesce(
     (SELECT max(part) FROM resumable_parts p WHERE p.upload_id = u.id), 0);`,
  // --rate-limit: each key's current window (see rate_limit.ts), shared by every instance.
  `CREATE TABLE resumable_rate_limits (
     key           text PRIMARY KEY,
     window_start  bigint NOT NULL,
     count         integer NOT NULL
   );`,
];

/** Any constant: serialises migrations of instances starting at once. */
const MIGRATION_LOCK = 0x7265_7375_6d61;

/**
 * Brings the schema up to date (creating it on an empty database). Refuses a database migrated by
 * a newer server, whose schema this one doesn't know.
 */
export async function migrate(sql: Sql): Promise<number> {
  return await sql.begin(async (tx) => {
    const q = tx as unknown as Sql;
    await q`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`;
    await q`CREATE TABLE IF NOT EXISTS resumable_schema (
      version    integer PRIMARY KEY,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`;
    const [row] = await q`SELECT coalesce(max(version), 0)::int AS v FROM resumable_schema`;
    const current = Number(row?.v ?? 0);
    if (current > MIGRATIONS.length) {
      throw new Error(
        `The database schema is at version ${current}, newer than this server knows ` +
          `(${MIGRATIONS.length}); upgrade the server`,
      );
    }
    for (let v = current + 1; v <= MIGRATIONS.length; v++) {
      await q.unsafe(MIGRATIONS[v - 1]!);
      await q`INSERT INTO resumable_schema (version) VALUES (${v})`;
    }
    return MIGRATIONS.length;
  });
}

/** One upload as stored: its info, and where its bytes are in object storage. */
export interface UploadRow {
  id: string;
  length?: number;
  metadata: string;
  createdAt: number;
  updatedAt: number;
  concat?: Concat;
  owner?: string;
  digests?: Digests;
  ended?: Ended;
  /** Bumped by every change to the bytes; changes are conditional on it. */
  version: number;
  /** The multipart upload, once its first part went up. */
  multipartId?: string;
  /** The size of its parts (each but the last), fixed when the multipart upload is begun. */
  partSize?: number;
  /** The highest part number recorded, and the highest one ever about to be uploaded. */
  lastPart: number;
  nextPart: number;
  /** Bytes in the recorded parts, and how many parts. */
  partsBytes: number;
  partCount: number;
  /** The object holding the bytes after the parts (fewer than a part), when there are any. */
  tailKey?: string;
  tailBytes: number;
  /** The whole upload is one object at its final key. */
  completed: boolean;
}

export interface PartRecord {
  part: number;
  size: number;
  etag: string;
}

/** A change to an upload's bytes, applied only if its version is still `version`. */
export interface ByteChange {
  multipartId?: string;
  partSize?: number;
  /** Parts to record (uploaded already); their bytes are added to `partsBytes`. */
  parts?: PartRecord[];
  /** The new tail object and its size; null clears it. */
  tail?: { key: string; bytes: number } | null;
  completed?: boolean;
  updatedAt: number;
}

/** Rows of `resumable_uploads` (and `resumable_parts`), as the S3 store uses them. */
export class UploadRows {
  readonly sql: Sql;

  constructor(sql: Sql) {
    this.sql = sql;
  }

  async insert(upload: NewUpload, now: number): Promise<UploadRow> {
    const concat = upload.concat ? this.sql.json(upload.concat as postgres.JSONValue) : null;
    const [row] = await this.sql`
      INSERT INTO resumable_uploads (id, length, metadata, created_at, updated_at, concat, owner)
      VALUES (${upload.id}, ${upload.length ?? null}, ${upload.metadata}, ${upload.createdAt},
              ${now}, ${concat}, ${upload.owner ?? null})
      RETURNING *`;
    return toRow(row!);
  }

  async get(id: string): Promise<UploadRow | undefined> {
    const [row] = await this.sql`SELECT * FROM resumable_uploads WHERE id = ${id}`;
    return row ? toRow(row) : undefined;
  }

  /**
   * Records that part `part` is about to be uploaded (before it is: whatever S3 then holds is
   * known of). False if the upload has ended.
   */
  async intendPart(id: string, part: number): Promise<boolean> {
    const rows = await this.sql`
      UPDATE resumable_uploads SET next_part = greatest(next_part, ${part})
      WHERE id = ${id} AND ended_state IS NULL
      RETURNING id`;
    return rows.length > 0;
  }

  async parts(id: string): Promise<PartRecord[]> {
    const rows = await this.sql`
      SELECT part, size, etag FROM resumable_parts WHERE upload_id = ${id} ORDER BY part`;
    return rows.map((r) => ({ part: Number(r.part), size: Number(r.size), etag: String(r.etag) }));
  }

  /**
   * Applies `change` if the upload is still at `version` (and not ended); returns the new row,
   * or undefined when another writer changed it first (or it was removed).
   */
  async change(id: string, version: number, change: ByteChange): Promise<UploadRow | undefined> {
    return await this.sql.begin(async (tx) => {
      const q = tx as unknown as Sql;
      const parts = change.parts ?? [];
      const added = parts.reduce((n, p) => n + p.size, 0);
      const last = parts.reduce((n, p) => Math.max(n, p.part), 0);
      const tail = change.tail;
      const [row] = await q`
        UPDATE resumable_uploads SET
          version = version + 1,
          updated_at = ${change.updatedAt},
          multipart_id = coalesce(${change.multipartId ?? null}::text, multipart_id),
          part_size = coalesce(${change.partSize ?? null}::bigint, part_size),
          last_part = greatest(last_part, ${last}),
          parts_bytes = parts_bytes + ${added},
          part_count = part_count + ${parts.length},
          tail_key = CASE WHEN ${tail === undefined} THEN tail_key ELSE ${tail?.key ?? null} END,
          tail_bytes = CASE WHEN ${tail === undefined} THEN tail_bytes ELSE ${tail?.bytes ?? 0} END,
          completed = completed OR ${change.completed ?? false}
        WHERE id = ${id} AND version = ${version} AND ended_state IS NULL
        RETURNING *`;
      if (!row) return undefined;
      for (const p of parts) {
        await q`
          INSERT INTO resumable_parts (upload_id, part, size, etag)
          VALUES (${id}, ${p.part}, ${p.size}, ${p.etag})
          ON CONFLICT (upload_id, part) DO UPDATE SET size = excluded.size, etag = excluded.etag`;
      }
      return toRow(row);
    });
  }

  async setDigests(id: string, digests: Digests): Promise<void> {
    await this.sql`
      UPDATE resumable_uploads SET digests = ${this.sql.json({ ...digests })}
      WHERE id = ${id} AND ended_state IS NULL`;
  }

  /** Records the length of a live upload; false if it is unknown or ended. */
  async setLength(id: string, length: number): Promise<boolean> {
    const rows = await this.sql`
      UPDATE resumable_uploads SET length = ${length}
      WHERE id = ${id} AND ended_state IS NULL
      RETURNING id`;
    return rows.length > 0;
  }

  /**
   * Records that the final upload `finalId` uses the live upload `partId` (once, however often
   * asked). False if the part is unknown or ended: one statement, so it can't end in between.
   */
  async addFinal(partId: string, finalId: string): Promise<boolean> {
    const rows = await this.sql`
      UPDATE resumable_uploads SET concat = CASE
        WHEN coalesce(concat -> 'finals', '[]'::jsonb) ? ${finalId} THEN concat
        ELSE jsonb_build_object(
          'kind', 'partial',
          'finals', coalesce(concat -> 'finals', '[]'::jsonb) || to_jsonb(${finalId}::text))
        END
      WHERE id = ${partId} AND ended_state IS NULL
      RETURNING id`;
    return rows.length > 0;
  }

  /**
   * Ends a live upload: a tombstone with `ended` (its byte state cleared), or no row at all.
   * Returns the row as it was, or undefined if it was unknown or already ended.
   */
  async end(id: string, ended?: Ended): Promise<UploadRow | undefined> {
    return await this.sql.begin(async (tx) => {
      const q = tx as unknown as Sql;
      const [row] = await q`
        SELECT * FROM resumable_uploads WHERE id = ${id} AND ended_state IS NULL FOR UPDATE`;
      if (!row) return undefined;
      if (ended) {
        await q`DELETE FROM resumable_parts WHERE upload_id = ${id}`;
        await q`
          UPDATE resumable_uploads SET ended_state = ${ended.state}, ended_at = ${ended.at},
            version = version + 1, digests = NULL, multipart_id = NULL, part_size = NULL,
            parts_bytes = 0, part_count = 0, last_part = 0, tail_key = NULL, tail_bytes = 0,
            completed = false
          WHERE id = ${id}`;
      } else {
        await q`DELETE FROM resumable_uploads WHERE id = ${id}`;
      }
      return toRow(row);
    });
  }

  /** Drops tombstones of uploads that ended before `before`; returns how many. */
  async dropEnded(before: number): Promise<number> {
    const rows = await this.sql`
      DELETE FROM resumable_uploads WHERE ended_at IS NOT NULL AND ended_at < ${before}
      RETURNING id`;
    return rows.length;
  }

  /** Every upload id, tombstones included, read in batches. */
  async *ids(): AsyncIterable<string> {
    for await (const batch of this.sql`SELECT id FROM resumable_uploads`.cursor(500)) {
      for (const row of batch) yield String(row.id);
    }
  }

  /** The rows of these ids that exist (for garbage collection). */
  async some(ids: string[]): Promise<Map<string, UploadRow>> {
    if (ids.length === 0) return new Map();
    const rows = await this.sql`SELECT * FROM resumable_uploads WHERE id = ANY(${ids})`;
    return new Map(rows.map((r) => [String(r.id), toRow(r)]));
  }
}

function toRow(r: postgres.Row): UploadRow {
  const num = (v: unknown) => Number(v);
  return {
    id: String(r.id),
    metadata: String(r.metadata),
    createdAt: num(r.created_at),
    updatedAt: num(r.updated_at),
    version: num(r.version),
    lastPart: num(r.last_part),
    nextPart: num(r.next_part),
    partsBytes: num(r.parts_bytes),
    partCount: num(r.part_count),
    tailBytes: num(r.tail_bytes),
    completed: Boolean(r.completed),
    ...defined({
      length: present(r.length, num),
      concat: present(r.concat, (v) => v as Concat),
      owner: present(r.owner, String),
      digests: present(r.digests, (v) => v as Digests),
      ended: present(r.ended_state, (v) => ({ state: v as Ended["state"], at: num(r.ended_at) })),
      multipartId: present(r.multipart_id, String),
      partSize: present(r.part_size, num),
      tailKey: present(r.tail_key, String),
    }),
  };
}
