/**
 * The backends of a server that shares its state through PostgreSQL (`--db`): locks and, with
 * `--store s3`, upload info there, bytes in the bucket; with the file store only the locks.
 */
import type { ServerConfig } from "./config/config.ts";
import type { Backends } from "./backends.ts";
import { PgLocker } from "./lock/pg_locker.ts";
import { PgRateCounter } from "./rate_limit_pg.ts";
import { connect, migrate, UploadRows } from "./store/pg_info.ts";
import type { S3Client } from "./store/s3/s3_client.ts";
import type { S3Store } from "./store/s3/s3_store.ts";
import type { UploadStore } from "./store/types.ts";

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

/** Opens the database (migrating it), its locker, and the store `config` asks for. */
export async function openSharedBackends(
  config: ServerConfig,
  db: string,
  openFiles: () => Promise<UploadStore>,
): Promise<Backends> {
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
