/** Adversarial headers: repeated, oversized, non-ASCII, conflicting and framing-breaking. */
import { KiB, MiB, OCTETS } from "./constants.ts";
import { Gen } from "./gen.ts";
import { checksumValue, concatValue, CONTROL, metadataValue, numberValue } from "./values.ts";
import type { World } from "./world.ts";

/** Adds `count` adversarial headers; true when they make the request malformed. */
export function addChaosHeaders(
  g: Gen,
  world: World,
  idPool: string[],
  headers: [string, string][],
  count: number,
): boolean {
  let mayDrop = false;
  for (let i = 0; i < count; i++) {
    // Kinds 0-8 twice as likely: malformed lines and control characters (19, 20) end most
    // requests in the HTTP parser, which is tested, but shouldn't be all the fuzzing does.
    let kind = g.int(0, 30);
    if (kind > 21) kind -= 22;
    const sentinel = g.pick(world.sentinels);
    switch (kind) {
      case 0:
      case 1:
      case 2:
        headers.push(["Upload-Offset", numberValue(g, sentinel.content.length)]);
        break;
      case 3:
        headers.push(["Upload-Length", numberValue(g, g.pick([0, 10, 5000, MiB]))]);
        break;
      case 4:
        headers.push(["Upload-Defer-Length", g.pick(["1", "1", "0", "2", "true", "", "1, 1"])]);
        break;
      case 5:
        headers.push(["Upload-Metadata", metadataValue(g)]);
        break;
      case 6:
        headers.push(["Upload-Checksum", checksumValue(g)]);
        break;
      case 7:
        headers.push(["Upload-Concat", concatValue(g, world, idPool)]);
        break;
      case 8:
        headers.push(["Tus-Resumable", g.pick(["1.0.0", "1.0.0", "0.2.2", "1.0", ""])]);
        break;
      case 9:
        headers.push(["Upload-Draft-Interop-Version", g.pick(["6", "6", "5", "99", ""])]);
        headers.push(["Upload-Complete", g.pick(["?1", "?0", "?2", "1", "true"])]);
        break;
      case 10:
        headers.push([
          "X-HTTP-Method-Override",
          g.pick([
            "GET",
            "HEAD",
            "PATCH",
            "DELETE",
            "OPTIONS",
            "PUT",
            "FOO",
            "delete",
            " patch ",
            "",
          ]),
        ]);
        break;
      case 11:
      case 12:
        headers.push([
          "Content-Type",
          g.pick([
            OCTETS,
            OCTETS,
            "application/partial-upload",
            "text/plain",
            `${OCTETS}; charset=utf-8`,
            `${OCTETS}, text/html`,
            "",
            "multipart/form-data; boundary=x",
          ]),
        ]);
        break;
      case 13:
        headers.push([
          "Range",
          g.pick([
            "bytes=0-10",
            "bytes=-5",
            "bytes=5-",
            "bytes=10-5",
            "bytes=0-0,5-6",
            "bytes=99999999999999999999-",
            "items=0-1",
            "bytes=",
            "bytes=-0",
          ]),
        ]);
        if (g.chance(0.5)) {
          headers.push([
            g.pick(["If-Range", "If-None-Match"]),
            g.pick(["*", '"abc"', 'W/"x"', "<>"]),
          ]);
        }
        break;
      case 14:
        headers.push(["Origin", g.pick(["https://a.example", "null", "*", "http://evil"])]);
        if (g.chance(0.5)) {
          headers.push(["Access-Control-Request-Method", g.pick(["PATCH", "GET", "FOO"])]);
        }
        break;
      case 15:
        headers.push([
          g.pick(["Forwarded", "X-Forwarded-Host", "X-Forwarded-Proto"]),
          g.pick([
            "host=evil.example;proto=https",
            'for="[::1]";host="a\\"b"',
            "evil.example",
            "gopher",
          ]),
        ]);
        break;
      case 16: {
        // Huge values: below and above the 16 KiB head limit.
        const size = g.chance(0.8) ? g.int(1 * KiB, 12 * KiB) : g.int(17 * KiB, 24 * KiB);
        headers.push([`X-Junk-${i}`, "v".repeat(size)]);
        break;
      }
      case 17: {
        // Repeated headers with disagreeing values.
        const name = g.pick(["Upload-Offset", "Upload-Length", "Tus-Resumable", "Upload-Metadata"]);
        headers.push([name, numberValue(g)], [name, numberValue(g)]);
        break;
      }
      case 18:
        // Non-ASCII (UTF-8 as Latin-1 bytes, or raw high bytes).
        headers.push([
          g.pick(["Upload-Metadata", "Upload-Offset", "X-Note", "Upload-Concat"]),
          g.pick([
            "\u00c3\u00a9",
            "\u00e6\u0097\u00a5\u00e6\u009c\u00ac",
            "\u00ff\u00fe",
            "caf\u00e9",
          ]),
        ]);
        break;
      case 19:
        // Control characters: the HTTP layer should refuse them.
        headers.push([
          g.pick(["Upload-Offset", "X-Ctl", "Upload-Metadata"]),
          `1${g.pick(CONTROL)}2`,
        ]);
        mayDrop = true;
        break;
      case 20:
        // Malformed header lines (smuggling shapes).
        headers.push(
          g.pick<[string, string]>([
            ["Upload Offset", "0"],
            ["Upload-Offset ", "0"],
            ["X-A", "a\r\n b"],
            ["", "empty-name"],
            ["Transfer-Encoding", "chunked, identity"],
            ["Transfer-Encoding", "gzip"],
            ["Content-Length", "5, 6"],
            ["Content-Length", "-1"],
          ]),
        );
        mayDrop = true;
        break;
      default:
        headers.push(["Expect", g.pick(["100-continue", "foo"])]);
    }
  }

  return mayDrop;
}
