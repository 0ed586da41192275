import type { IncomingMessage } from "node:http";
import { noteFresh } from "../lib/deno/chunk_gc.ts";

/** How many received chunks the body stream holds before it pauses the connection. */
const BODY_CHUNKS = 8;

/**
 * The request body as a web stream with backpressure (pause/resume). Cancelling it stops reading
 * without destroying the socket, so the handler can still answer on it.
 */
export class BodyReader {
  readonly announced: boolean;
  ended = false;
  readonly stream: ReadableStream<Uint8Array>;
  readonly trailers: Promise<Headers>;

  constructor(req: IncomingMessage) {
    this.trailers = new Promise((resolve) => {
      req.once("end", () => {
        const headers = new Headers();
        const raw = req.rawTrailers;
        for (let i = 0; i + 1 < raw.length; i += 2) headers.append(raw[i]!, raw[i + 1]!);
        resolve(headers);
      });
      req.once("close", () => resolve(new Headers()));
    });
    const length = req.headers["content-length"];
    this.announced = req.headers["transfer-encoding"] !== undefined ||
      (length !== undefined && length !== "0");
    let cancelled = false;
    let failOnceRead = () => {};
    const socket = req.socket;
    this.stream = new ReadableStream<Uint8Array>({
      start: (controller) => {
        const fail = () => {
          cancelled = true;
          controller.error(new Error("Connection closed before the request body ended"));
        };
        // The client half-closed before its body ended: no more bytes will come. What arrived is
        // still handed over first; the error follows once every byte of it has been read.
        let finished = false;
        failOnceRead = () => {
          if (!finished || this.ended || cancelled) return;
          if (req.readableLength === 0 && controller.desiredSize === BODY_CHUNKS) fail();
        };
        const onFin = () => {
          if (req.complete) return;
          finished = true;
          failOnceRead();
        };
        socket.once("end", onFin);
        req.once("close", () => socket.off("end", onFin));
        req.pause();
        req.on("data", (chunk: Uint8Array) => {
          if (cancelled) return;
          noteFresh(chunk.length);
          controller.enqueue(chunk);
          if ((controller.desiredSize ?? 0) <= 0) req.pause();
        });
        req.on("end", () => {
          this.ended = true;
          if (!cancelled) controller.close();
        });
        req.on("close", () => {
          if (!this.ended && !cancelled) fail();
        });
      },
      pull: () => {
        req.resume();
        failOnceRead();
      },
      cancel: () => {
        cancelled = true;
        req.pause();
      },
    }, { highWaterMark: BODY_CHUNKS });
  }
}
