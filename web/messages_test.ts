import assert from "node:assert/strict";
import { UploadError } from "../lib/errors.ts";
import { describeError, describeRetry, serverWords } from "./messages.ts";

Deno.test("describeError puts the server's refusals in plain words, with what it said", () => {
  const refused = (status: number, said: string) =>
    describeError(new UploadError(status, "rejected", `Server refused: POST ${status}: ${said}`));
  assert.equal(
    refused(413, "Upload-Length 20 exceeds the server's maximum of 10 bytes"),
    "This file is too large for the server. The server said: Upload-Length 20 exceeds the " +
      "server's maximum of 10 bytes.",
  );
  assert.match(refused(415, "Upload x is text/plain"), /^The server does not accept this type/);
  assert.match(refused(401, "(no message)"), /needs a valid access token\.[^T]*$/);
  assert.match(refused(418, "teapot"), /^The server refused \(418\)\. The server said: teapot\.$/);
  assert.match(
    describeError(
      new UploadError(
        507,
        "gave-up",
        "Gave up after 9 attempts without progress; " +
          "last error: PATCH 507: The server's storage is full",
      ),
    ),
    /^The server has run out of storage space\. The server said: The server's storage is full\. Gave up/,
  );
  assert.match(
    describeError(new UploadError(0, "gave-up", "Gave up after 9 attempts; last error: x")),
    /^Could not reach the server/,
  );
  assert.match(
    describeError(new UploadError(0, "digest-mismatch", "Verification failed for u: …")),
    /^Verification failed/,
  );
  assert.match(describeError(new DOMException("x", "NotReadableError")), /Could not read the file/);
  assert.equal(describeError(new Error("boom")), "Something went wrong: boom");
});

Deno.test("serverWords strips the core's request prefix and nothing else", () => {
  assert.equal(serverWords("Server refused: PATCH 415: Upload a: b"), "Upload a: b");
  assert.equal(serverWords("HEAD 404: "), "");
  assert.equal(serverWords("plain words"), "plain words");
});

Deno.test("describeRetry says why and counts down", () => {
  assert.equal(describeRetry(503, 3), "The server is busy; retrying in 3 s…");
  assert.equal(describeRetry(undefined, 0), "Lost the connection to the server; retrying now…");
  assert.match(describeRetry(507, 10), /out of storage space; retrying in 10 s/);
});
