/**
 * Header parsing on every request: `parseHeaderInteger` (Upload-Offset, Upload-Length) and the
 * `Upload-Metadata` codec. Baselines are the cheapest thing that could stand in for each: `Number`
 * on the same digits, and a bare `split(",")` of the same header. Run: deno task bench.
 */
import { decodeMetadata, encodeMetadata, parseMetadataHeader } from "../lib/metadata.ts";
import { parseHeaderInteger } from "../lib/protocol.ts";

const OFFSET = "1073741824";
Deno.bench({
  name: "Number(value) (baseline)",
  group: "header integer",
  baseline: true,
  fn: () => void Number(OFFSET),
});
Deno.bench({
  name: "parseHeaderInteger valid",
  group: "header integer",
  fn: () => void parseHeaderInteger("Upload-Offset", OFFSET),
});
Deno.bench({
  name: "parseHeaderInteger invalid (throws)",
  group: "header integer",
  fn() {
    try {
      parseHeaderInteger("Upload-Offset", "-1e3");
    } catch {
      // expected: the cost of a 400
    }
  },
});

const small = encodeMetadata({ filename: "holiday video.mp4", filetype: "video/mp4", n: "1" });
const pairs: Record<string, string> = {};
for (let i = 0; i < 20; i++) pairs[`key${i}`] = `value number ${i} with some text ñ`;
const large = encodeMetadata(pairs);
for (const [label, header] of [["3 pairs", small], ["20 pairs", large]] as const) {
  const group = `Upload-Metadata ${label}`;
  Deno.bench({
    name: `split(",") ${label} (baseline)`,
    group,
    baseline: true,
    fn: () => void header.split(","),
  });
  Deno.bench({
    name: `parseMetadataHeader ${label}`,
    group,
    fn: () => void parseMetadataHeader(header),
  });
  Deno.bench({
    name: `decodeMetadata ${label}`,
    group,
    fn: () => void decodeMetadata(header),
  });
}
Deno.bench({
  name: "encodeMetadata 3 pairs",
  group: "Upload-Metadata 3 pairs",
  fn: () => void encodeMetadata({ filename: "holiday video.mp4", filetype: "video/mp4", n: "1" }),
});
