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

  /** Pulls from here on are the handler's reads (see `arm`). */
  #armed = false;

  /**
   * `onFirstRead`: called once, when the handler first reads the body, and nothing is read from
   * the connection before (where a client waits for `100 Continue` before sending its body). Then
   * call `arm` before the handler can read.
   */
  constructor(req: IncomingMessage, onFirstRead?: () => void) {
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
        if (onFirstRead) {
          // The pull a new stream makes to fill its queue, before anyone reads: nothing yet
          // (without an enqueue, the next pull comes only with a read).
          if (!this.#armed) return;
          onFirstRead();
          onFirstRead = undefined;
        }
        req.resume();
        failOnceRead();
      },
      cancel: () => {
        cancelled = true;
        req.pause();
      },
    }, { highWaterMark: BODY_CHUNKS });
  }

  /**
   * From now on a pull is a read (with `onFirstRead`). Call it after awaiting once since the
   * constructor: the stream's first, queue-filling pull runs in the microtask its start queues,
   * ahead of that await's continuation. Were it ever to come later, it would only count as the
   * first read (an early `100 Continue`), never hold a read back.
   */
  arm(): void {
    this.#armed = true;
  }
}
