/** A fuzz request, and the seeded generator every choice is drawn from. */
import { prng } from "../safety.ts";
import { randomBytes } from "../uploads.ts";

export type BodyMode =
  | "none"
  | "exact"
  | "extra-bytes"
  | "short-close"
  | "short-stall"
  | "chunked"
  | "chunked-trailer"
  | "bad-chunked";

export interface FuzzRequest {
  index: number;
  via: "fetch" | "raw";
  method: string;
  path: string;
  /** In order, duplicates allowed; values may hold any byte (Latin-1 strings). */
  headers: [string, string][];
  body: Uint8Array<ArrayBuffer> | undefined;
  bodyMode: BodyMode;
  /** Malformed on purpose: the server may close without an answer. */
  mayDrop: boolean;
  /** The request carries Bob's valid token (auth on): Alice's uploads must stay invisible. */
  asBob: boolean;
}

export class Gen {
  readonly random: () => number;
  constructor(seed: number) {
    this.random = prng(seed);
  }
  int(min: number, max: number): number {
    return min + Math.floor(this.random() * (max - min + 1));
  }
  chance(p: number): boolean {
    return this.random() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.random() * items.length)]!;
  }
  hex(n: number): string {
    let s = "";
    for (let i = 0; i < n; i++) s += "0123456789abcdef"[this.int(0, 15)];
    return s;
  }
  bytes(n: number): Uint8Array<ArrayBuffer> {
    return randomBytes(n, this.int(1, 2 ** 31));
  }
}
