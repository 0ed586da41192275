import assert from "node:assert/strict";
import { explainRefusal } from "./refusal.ts";

const URL = "http://127.0.0.1:1080/files/abc";

Deno.test("explainRefusal gives the server's message, not its JSON, and what to do", () => {
  const json = JSON.stringify({
    error: { code: "incomplete", message: "Upload abc is incomplete: 5 of 10 bytes stored" },
  });
  const line = explainRefusal(URL, 409, json);
  assert.equal(
    line,
    `the upload at ${URL} is not complete yet (the server said: Upload abc is incomplete: ` +
      "5 of 10 bytes stored); finish it with `client upload FILE` (the same command resumes " +
      "it), then try again",
  );
  assert.doesNotMatch(line, /[{}]/);
});

Deno.test("explainRefusal: a HEAD's 404 (no body) says the upload is gone and what to do", () => {
  assert.equal(
    explainRefusal(URL, 404),
    `the server has no upload at ${URL}: it expired, was deleted, or the URL is wrong; ` +
      "upload the file again",
  );
  assert.match(explainRefusal(URL, 401), /pass --token/);
  assert.match(explainRefusal(URL, 503, "busy\n"), /\(503\) \(the server said: busy\); try again/);
});
