import assert from "node:assert/strict";
import { UploadError } from "./errors.ts";
import {
  decodeMetadata,
  encodeMetadata,
  formatMetadataHeader,
  parseMetadataHeader,
} from "./metadata.ts";

Deno.test("metadata round-trips UTF-8 values and empty values", () => {
  const header = encodeMetadata({
    filename: "ünïcødé name.txt",
    filetype: "text/plain",
    flag: null,
  });
  assert.deepEqual(decodeMetadata(header), {
    filename: "ünïcødé name.txt",
    filetype: "text/plain",
    flag: null,
  });
});

Deno.test("metadata parsing keeps base64 values so the header can be echoed", () => {
  const pairs = parseMetadataHeader(
    "filename d29ybGRfZG9taW5hdGlvbl9wbGFuLnBkZg==, is_confidential",
  );
  assert.equal(
    formatMetadataHeader(pairs),
    "filename d29ybGRfZG9taW5hdGlvbl9wbGFuLnBkZg==,is_confidential",
  );
  assert.equal(parseMetadataHeader("").size, 0);
});

Deno.test("metadata parsing refuses bad base64, duplicate, empty and spaced keys", () => {
  for (
    const bad of [
      "filename not*base64",
      "a YQ==,a Yg==",
      "a  YQ==",
      ",",
      "a YQ== extra",
      "a YQ=",
      "ke\u00ffy YQ==",
      "x".repeat(20_000),
    ]
  ) {
    assert.throws(
      () => parseMetadataHeader(bad),
      (e) => e instanceof UploadError && e.status === 400,
      bad,
    );
  }
});
