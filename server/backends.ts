/**
 * Where a server keeps uploads and how it locks them: local files with in-process locks (the
 * default, nothing else to run), or — to run several instances behind one address — bytes in an
 * S3-compatible bucket, info in PostgreSQL and locks shared through PostgreSQL. `--db` with the
 * file store shares only the locks (instances on one shared filesystem; info stays in `.info`).
 */
import type { ServerConfig } from "./config/config.ts";
import { type Locker, MemoryLocker } from "./lock/locker.ts";
import { PgLocker } from "./lock/pg_locker.ts";
import type { RateCounter } from "./http/rate_limit.ts";
import { PgRateCounter } from "./rate_limit_pg.ts";
import { connect, migrate, UploadRows } from "./store/pg_info.ts";
import type { S3Client } from "./store/s3/s3_client.ts";
import type { S3Store } from "./store/s3/s3_store.ts";
import type { UploadStore } from "./store/types.ts";

export interface Backends {
  store: UploadStore;
  locker: Locker;
  /** Closes database connections and idle S3 connections (after the server has stopped). */
  close(): Promise<void>;
  /** Why the database or the bucket can't be used now (for /readyz), or undefined if they can. */
  probe?(): Promise<string | undefined>;
  /** `--rate-limit` counts shared through the database (without one, each instance counts). */
  rateCounter?: RateCounter;
}

/** How long a readiness probe of the database or the bucket may take. */
const PROBE_TIMEOUT_MS = 3000;

async function probed(what: string, check: () => Promise<unknown>): Promise<string | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      check(),
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no answer in ${PROBE_TIMEOUT_MS} ms`)),
          PROBE_TIMEOUT_MS,
        );
      }),
    ]);
    return undefined;
  } catch (error) {
    return `${what} is unreachable: ${error instanceof Error ? error.message : String(error)}`;
  } finally {
    clearTimeout(timer);
  }
}

/** Opens the backends `config` asks for; `openFiles` makes the file store (cli.ts knows how). */
export async function openBackends(
  config: ServerConfig,
  openFiles: () => Promise<UploadStore>,
): Promise<Backends> {
  if (config.db === undefined) {
    return {
      store: await openFiles(),
      locker: new MemoryLocker(config.lockTimeoutMs),
      close: () => Promise.resolve(),
    };
  }
  const db = config.db;
  const sql = connect(db);
  try {
    await migrate(sql);
  } catch (error) {
    await sql.end({ timeout: 1 }).catch(() => {});
    throw new Error(`Cannot use --db: ${(error as Error).message}`, { cause: error });
  }
  let locker: PgLocker | undefined;
  let s3: S3Client | undefined;
  let s3Store: S3Store | undefined;
  let store: UploadStore;
  try {
    locker = await PgLocker.open(db, { timeoutMs: config.lockTimeoutMs });
    if (config.store === "s3") {
      // Loaded for this store only: a server on the file store never loads the S3 code or SDK.
      const [{ openBucket }, { S3Store }] = await Promise.all([
        import("./s3_open.ts"),
        import("./store/s3/s3_store.ts"),
      ]);
      s3 = await openBucket(config);
      store = s3Store = await S3Store.open({
        s3,
        rows: new UploadRows(sql),
        dir: config.dir,
        partSize: config.s3PartSize,
        prefix: config.s3Prefix,
      });
    } else {
      store = await openFiles();
    }
  } catch (error) {
    await locker?.close().catch(() => {});
    await sql.end({ timeout: 1 }).catch(() => {});
    s3?.close();
    throw error;
  }
  return {
    store,
    locker,
    ...(config.rateLimit ? { rateCounter: new PgRateCounter(sql) } : {}),
    async close() {
      await locker!.close();
      await sql.end({ timeout: 5 });
      await s3Store?.close();
      s3?.close();
    },
    async probe() {
      return await probed("the database", () => sql`SELECT 1`) ??
        (s3 ? await probed("the bucket", () => s3!.ping()) : undefined);
    },
  };
}
