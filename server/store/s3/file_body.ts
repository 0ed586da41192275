/**
 * A region of a file sent as a node:http request body through pooled buffers. Reading into a
 * fresh buffer per read (as `fs.createReadStream` does) leaves every byte sent behind as garbage
 * outside the JS heap, which the runtime collects only once tens of MiB have piled up: the peak
 * memory of a process sending parts then depends on how long it has been sending, not on the
 * requests in flight.
 */
import type http from "node:http";
import { SpareBuffers } from "../../../lib/spare_buffers.ts";

/** A region of a file: `length` bytes from `start`. */
export interface FileRegion {
  path: string;
  start: number;
  length: number;
}

/**
 * Bytes per write. At least 1 MiB: Deno's client keeps (by reference) the first MiB written on a
 * kept-alive connection to replay it on a fresh one, so a buffer is refilled only once a later
 * write has gone past that MiB and nothing is replayed any more.
 */
export const SEND_BUFFER = 1024 * 1024;
/** Buffers per request: one is read into while the other is written. */
const PER_REQUEST = 2;
/** The buffers, and idle ones kept for the next requests (four requests' worth). */
export const sendBuffers = new SpareBuffers(SEND_BUFFER, 4 * PER_REQUEST);

/**
 * Writes `region` into `outgoing` and ends it; a failure to read the file destroys the request
 * (its `error` event reports it). The buffers go back to the pool once the request is closed
 * (answered, or failed): only then is nothing of them read or replayed any more.
 */
export function sendFileRegion(outgoing: http.ClientRequest, region: FileRegion): void {
  const closed = new Promise<void>((resolve) => outgoing.once("close", () => resolve()));
  const count = Math.min(PER_REQUEST, Math.ceil(region.length / SEND_BUFFER));
  const buffers = Array.from({ length: count }, () => sendBuffers.take());
  (async () => {
    try {
      await pump(outgoing, region, buffers, closed);
    } catch (error) {
      outgoing.destroy(error as Error);
    }
    await closed;
    for (const buffer of buffers) sendBuffers.give(buffer);
  })();
}

async function pump(
  outgoing: http.ClientRequest,
  region: FileRegion,
  buffers: Uint8Array[],
  closed: Promise<void>,
): Promise<void> {
  const written: Promise<void>[] = buffers.map(() => Promise.resolve());
  using file = await Deno.open(region.path, { read: true });
  await file.seek(region.start, Deno.SeekMode.Start);
  for (let left = region.length, i = 0; left > 0; i = (i + 1) % buffers.length) {
    // A buffer is refilled once its last write is done, or never when the request is gone.
    await Promise.race([written[i], closed]);
    if (outgoing.destroyed) return;
    const bytes = buffers[i]!.subarray(0, Math.min(left, SEND_BUFFER));
    await readFull(file, bytes, region);
    left -= bytes.length;
    written[i] = new Promise((resolve) => outgoing.write(bytes, () => resolve()));
  }
  outgoing.end();
  await Promise.race([Promise.all(written), closed]);
}

async function readFull(file: Deno.FsFile, into: Uint8Array, region: FileRegion): Promise<void> {
  for (let at = 0; at < into.length;) {
    const n = await file.read(into.subarray(at));
    if (n === null) {
      throw new Error(`${region.path} is shorter than ${region.start + region.length} bytes`);
    }
    at += n;
  }
}
