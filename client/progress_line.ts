/**
 * The CLI's progress line on a terminal: a bar in two shades — `#` for bytes the server has
 * confirmed holding, `=` for bytes sent and not yet confirmed — then the bytes sent and saved, the
 * speed over the last seconds of bytes sent and the time left. Speed and time left are left out
 * until fresh samples exist (after a start, a retry or a resume), so they are never a stale guess.
 */
import { formatRate, formatTimeLeft, formatTransfer } from "../lib/units.ts";
import { RateWindow } from "./core/rate_window.ts";
import type { UploadEvent } from "./upload.ts";
import { widthOf } from "./terminal.ts";

export interface ProgressFigures {
  sent: number;
  acknowledged: number;
  total: number;
  /** Bytes per second; left out when undefined or zero. */
  rate?: number | undefined;
  /** Seconds left; left out when undefined. */
  eta?: number | undefined;
}

/** The narrowest bar worth drawing; below it the line is text only. */
const MIN_BAR = 10;

/** One line of at most `width - 1` columns (the last column would make a terminal wrap). */
export function renderProgress(f: ProgressFigures, width: number): string {
  const parts = [
    ...formatTransfer(f.sent, f.acknowledged, f.total),
    ...(f.rate ? [formatRate(f.rate)] : []),
    ...(f.rate && f.eta !== undefined ? [`${formatTimeLeft(f.eta)} left`] : []),
  ];
  const room = width - 1;
  let text = parts.join(", ");
  while (text.length > room && parts.length > 1) text = (parts.pop(), parts.join(", "));
  const barWidth = Math.min(40, room - text.length - 3);
  if (barWidth < MIN_BAR) return text.slice(0, room);
  const cells = (bytes: number) =>
    f.total === 0 ? barWidth : Math.floor((bytes / f.total) * barWidth);
  const saved = cells(f.acknowledged);
  const sent = Math.max(saved, cells(f.sent));
  return `[${"#".repeat(saved)}${"=".repeat(sent - saved)}${".".repeat(barWidth - sent)}] ${text}`;
}

/** Redraws at most this often, and at least this often while nothing arrives (a stall shows). */
const REDRAW_MS = 100;
const TICK_MS = 1000;

/** The live line on stderr; `clear` before printing anything else, `stop` at the end. */
export class ProgressLine {
  readonly #total: number;
  readonly #window = new RateWindow();
  readonly #tick: ReturnType<typeof setInterval>;
  #sent = 0;
  #acknowledged = 0;
  #drawnAt = -Infinity;
  #shown = false;

  constructor(total: number) {
    this.#total = total;
    this.#tick = setInterval(() => this.#draw(true), TICK_MS);
    Deno.unrefTimer(this.#tick);
  }

  /** Follows the upload: progress moves the bar; a retry, resume or restart forgets the speed. */
  event(event: UploadEvent): void {
    if (event.type === "progress") {
      this.#sent = event.sent;
      this.#acknowledged = event.acknowledged;
      this.#window.add(performance.now(), event.sent);
      this.#draw(event.acknowledged >= event.total);
    } else if (event.type === "retry" || event.type === "resumed" || event.type === "restarted") {
      this.#window.reset();
    }
  }

  /** Erases the line (it is drawn again on the next progress). */
  clear(): void {
    if (this.#shown) write("\r\x1b[K");
    this.#shown = false;
  }

  /** Erases the line for good. */
  stop(): void {
    clearInterval(this.#tick);
    this.clear();
  }

  #draw(force: boolean): void {
    const now = performance.now();
    if (!force && now - this.#drawnAt < REDRAW_MS) return;
    this.#drawnAt = now;
    const line = renderProgress({
      sent: this.#sent,
      acknowledged: this.#acknowledged,
      total: this.#total,
      rate: this.#window.rate(now),
      eta: this.#window.eta(this.#total, now),
    }, widthOf(Deno.stderr));
    write(`\r${line}\x1b[K`);
    this.#shown = true;
  }
}

function write(text: string): void {
  Deno.stderr.writeSync(new TextEncoder().encode(text));
}
