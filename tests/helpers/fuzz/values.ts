/** Header values, paths, methods and bodies: plausible, broken and hostile ones. */
import { createHash } from "node:crypto";
import { forgeJwt, nowSeconds } from "../safety.ts";
import { KiB, KNOWN_METHODS, MiB, SECRET } from "./constants.ts";
import { Gen } from "./gen.ts";
import type { World } from "./world.ts";

export const CONTROL = ["\x01", "\x00", "\x7f", "\x1b[31m", "\x08", "a\rb", "a\nb"];

export function numberValue(g: Gen, near?: number): string {
  const n = near ?? g.int(0, 5000);
  return g.pick([
    String(n),
    String(n + 1),
    String(Math.max(0, n - 1)),
    "0",
    "-1",
    `-${n}`,
    `+${n}`,
    "1e3",
    `0${n}`,
    "0x10",
    `${n}.0`,
    ` ${n + 2} `,
    "99999999999999999999",
    "9007199254740993",
    "9007199254740991",
    "",
    "abc",
    "١٢٣",
    "NaN",
    "Infinity",
    `${n}, ${n}`,
    String(MiB),
    String(MiB + 1),
    String(g.int(0, 2 ** 31)),
  ]);
}

export function metadataValue(g: Gen): string {
  return g.pick([
    `filename ${btoa("ok.txt")}`,
    `filename ${btoa("../../etc/passwd")},filetype ${btoa("text/html")}`,
    "filename",
    "filename ",
    "filename !!!!",
    "filename ====",
    `a ${btoa("x")},a ${btoa("y")}`,
    ",,,",
    " , ",
    "key with spaces dmFs",
    "ключ dmFs",
    `filename ${"QUFB".repeat(g.int(100, 4100))}`,
    `filename ${btoa('"; rm -rf /; ".txt')}`,
    `filetype ${btoa("image/svg+xml")}`,
    `f\u00e9 ${btoa("v")}`,
    "x dGVzdA=,y dGVzdA==",
    `${"k".repeat(300)} ${btoa("v")}`,
  ]);
}

export function checksumValue(g: Gen): string {
  return g.pick([
    "sha1 2jmj7l5rSw0yVb/vlWAYkK/YBwk=",
    "sha1 AAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    "md5 1B2M2Y8AsgTpgAmY7PhCfg==",
    "sha256 47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
    "sha1",
    "sha1 ",
    "sha1 !!!",
    "crc32 AAAA",
    "SHA1 2jmj7l5rSw0yVb/vlWAYkK/YBwk=",
    "sha256 " + "A".repeat(g.int(1, 3000)),
    "md5 not base64 at all",
    " , ",
    "sha1 2jmj7l5rSw0yVb/vlWAYkK/YBwk=, md5 1B2M2Y8AsgTpgAmY7PhCfg==",
  ]);
}

export function concatValue(g: Gen, world: World, idPool: string[]): string {
  const url = () => {
    const id = g.pick(idPool);
    return g.pick([
      `/files/${id}`,
      `${world.server.url}/${id}`,
      `http://evil.example/files/${id}`,
      `../files/${id}`,
      `/files/${id}/status`,
      `/files/../files/${id}`,
      id,
      `/files/${id.toUpperCase()}`,
      `%2ffiles%2f${id}`,
    ]);
  };
  return g.pick([
    "partial",
    "PARTIAL",
    "final;",
    "final; ",
    `final;${url()}`,
    `final;${url()} ${url()}`,
    `final; ${url()}  ${url()} ${url()}`,
    `final;${Array.from({ length: g.int(2, 30) }, url).join(" ")}`,
    `final;${Array.from({ length: 1001 }, () => `/files/${g.hex(32)}`).join(" ")}`.slice(
      0,
      g.int(100, 15_000),
    ),
    `partial;final;${url()}`,
    `FINAL;${url()}`,
    `final,${url()}`,
    `final;${url()},${url()}`,
  ]);
}

export function pathValue(g: Gen, idPool: string[]): string {
  const id = g.pick(idPool);
  return g.pick([
    "/files",
    "/files/",
    `/files/${id}`,
    `/files/${id}`,
    `/files/${id}`,
    `/files/${id}/status`,
    `/files/${id}/`,
    `/files/${id}/status/x`,
    `/files/${id.toUpperCase()}`,
    `/files/${id.slice(0, 31)}`,
    `/files/${id}0`,
    "/files/../../../../etc/passwd",
    "/files/..%2f..%2f..%2fetc%2fpasswd",
    "/files/%2e%2e/%2e%2e/etc/passwd",
    `/files/${id}/..`,
    `/files/${id}/../../data`,
    `/files/%2e%2e%2f${id}`,
    "/files/%00",
    `/files/${id}%00`,
    "/files/.",
    "/files/..",
    `/files/${"a".repeat(g.int(33, 9000))}`,
    `/files/${id}?x=${"y".repeat(g.int(1, 500))}`,
    `/files/${id}#frag`,
    "/files/ünïcödé",
    "/files/%F0%9F%98%80",
    "/files/\u{1F600}",
    "/",
    "/etc/passwd",
    "//files",
    `/files//${id}`,
    `/FILES/${id}`,
    "*",
    `http://evil.example/files/${id}`,
    `/files\\..\\${id}`,
    "/files/%",
    "/files/%zz",
    `/files;/${id}`,
    `/files/${id};x=1`,
    "/files/con",
    "/files/~root",
    `/files/${id}/%2e%2e/%2e%2e/`,
  ]);
}

export function methodValue(g: Gen): string {
  if (g.chance(0.6)) return g.pick([...KNOWN_METHODS]);
  return g.pick([
    "GET",
    "HEAD",
    "POST",
    "POST",
    "POST",
    "PATCH",
    "PATCH",
    "PATCH",
    "PATCH",
    "DELETE",
    "OPTIONS",
    "PUT",
    "PROPFIND",
    "FOO",
    "M-SEARCH",
    "TRACE",
    "CONNECT",
    "get",
    "PaTcH",
    "A".repeat(g.int(20, 300)),
    "PATCH\x01",
    "",
  ]);
}

export function authHeader(g: Gen, world: World, headers: [string, string][]): boolean {
  // Mostly valid tokens when auth is on, garbage now and then either way.
  const now = nowSeconds();
  const choice = g.random();
  if (world.auth && choice < 0.45) {
    headers.push(["Authorization", `Bearer ${world.bob}`]);
    return true;
  }
  if (world.auth && choice < 0.8) headers.push(["Authorization", `Bearer ${world.alice}`]);
  else if (choice < 0.9) {
    headers.push([
      "Authorization",
      g.pick([
        "Bearer",
        "Bearer ",
        "Basic YWxpY2U6cHc=",
        `Bearer ${forgeJwt({ sub: "alice", exp: now - 10_000 }, SECRET)}`,
        `Bearer ${forgeJwt({ sub: "alice" }, undefined, { alg: "none" })}`,
        `Bearer ${forgeJwt({ sub: "alice" }, "wrong-secret-wrong-secret")}`,
        `Bearer ${forgeJwt({ sub: 42 }, SECRET)}`,
        `Bearer ${forgeJwt({ sub: "" }, SECRET)}`,
        `Bearer ${forgeJwt({ sub: "alice", nbf: now + 10_000 }, SECRET)}`,
        `Bearer ${"x".repeat(g.int(1, 8000))}`,
        `Bearer a.b.c`,
        `Bearer ${world.bob ?? "y"}, Bearer ${world.alice ?? "z"}`,
      ]),
    ]);
  }
  return false;
}

/** A body of a size drawn from small to past --max-size, sometimes with a PNG signature. */
export function bodyOf(g: Gen): Uint8Array<ArrayBuffer> {
  const size = g.pick([0, 1, 7, 512, 4 * KiB, 64 * KiB, g.int(1, 200 * KiB), 1.5 * MiB]);
  const body = g.bytes(size);
  if (g.chance(0.15)) body.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a].slice(0, size));
  return body;
}

export function sha1(bytes: Uint8Array): string {
  return createHash("sha1").update(bytes).digest("base64");
}
