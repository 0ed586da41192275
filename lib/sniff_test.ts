import assert from "node:assert/strict";
import { declaredMatches, sniffType, typeAllowed } from "./sniff.ts";

const bytes = (...parts: (number[] | string)[]) =>
  new Uint8Array(
    parts.flatMap((p) => typeof p === "string" ? [...p].map((c) => c.charCodeAt(0)) : p),
  );

Deno.test("sniffType knows the common magic numbers", () => {
  assert.equal(sniffType(bytes([0x89], "PNG", [0x0d, 0x0a, 0x1a, 0x0a], [0, 0])), "image/png");
  assert.equal(sniffType(bytes([0xff, 0xd8, 0xff, 0xe0])), "image/jpeg");
  assert.equal(sniffType(bytes("GIF89a", [1, 0])), "image/gif");
  assert.equal(sniffType(bytes("RIFF", [0, 0, 0, 0], "WEBPVP8 ")), "image/webp");
  assert.equal(sniffType(bytes("%PDF-1.7\n")), "application/pdf");
  assert.equal(sniffType(bytes("PK", [3, 4], [20, 0])), "application/zip");
  assert.equal(sniffType(bytes([0x1f, 0x8b, 0x08, 0])), "application/gzip");
  assert.equal(sniffType(bytes([0, 0, 0, 0x20], "ftypisom", [0, 0])), "video/mp4");
  assert.equal(sniffType(bytes([0, 0, 0, 0x20], "ftypM4A ")), "audio/mp4");
});

Deno.test("sniffType tells text from binary, allowing a UTF-8 sequence cut at the end", () => {
  assert.equal(sniffType(new TextEncoder().encode("hello, wörld\n")), "text/plain");
  const cut = new TextEncoder().encode("naïve").subarray(0, 3); // "na" + half of "ï"
  assert.equal(sniffType(cut), "text/plain");
  assert.equal(sniffType(cut, true), undefined, "a whole upload can't end mid-character");
  assert.equal(sniffType(bytes("MZ", [0x90, 0, 3, 0])), undefined, "a Windows executable");
  assert.equal(sniffType(bytes([0x7f], "ELF", [2, 1, 1])), undefined);
  assert.equal(sniffType(new Uint8Array(0)), undefined);
});

Deno.test("typeAllowed matches exact types and type/* wildcards", () => {
  assert.ok(typeAllowed("image/png", ["image/*", "application/pdf"]));
  assert.ok(typeAllowed("application/pdf", ["image/*", "application/pdf"]));
  assert.ok(!typeAllowed("application/zip", ["image/*", "application/pdf"]));
  assert.ok(!typeAllowed("imagex/png", ["image/*"]));
});

Deno.test("declaredMatches accepts aliases and generic declarations, refuses disguises", () => {
  assert.ok(declaredMatches("image/jpeg", "image/jpeg"));
  assert.ok(declaredMatches("image/jpg", "image/jpeg"));
  assert.ok(declaredMatches("application/octet-stream", "image/png"));
  assert.ok(declaredMatches("text/csv; charset=utf-8", "text/plain"));
  assert.ok(!declaredMatches("image/png", "application/pdf"));
  assert.ok(!declaredMatches("text/plain", "image/png"));
});
