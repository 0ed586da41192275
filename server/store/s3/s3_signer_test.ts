/**
 * The signer against published vectors: AWS's Signature Version 4 test suite (its example key
 * pair, region us-east-1, service "service", 2015-08-30T12:36:00Z) and the S3 API reference's
 * worked example of a ranged GET Object.
 */
import assert from "node:assert/strict";
import { RequestSigner, type SigningRequest } from "./s3_signer.ts";

const SUITE = {
  accessKeyId: "AKIDEXAMPLE",
  secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
};
const SUITE_AT = new Date("2015-08-30T12:36:00Z");
const SUITE_SCOPE = "AKIDEXAMPLE/20150830/us-east-1/service/aws4_request";
const SUITE_TOKEN =
  "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==";

function suiteRequest(method: string, extra: Partial<SigningRequest> = {}): SigningRequest {
  return {
    method,
    hostname: "example.amazonaws.com",
    path: "/",
    ...extra,
    headers: { host: "example.amazonaws.com", ...extra.headers },
  };
}

const vectors: {
  name: string;
  sessionToken?: string;
  request: SigningRequest;
  signedHeaders: string;
  signature: string;
}[] = [
  {
    name: "get-vanilla",
    request: suiteRequest("GET"),
    signedHeaders: "host;x-amz-date",
    signature: "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
  },
  {
    name: "get-vanilla-query-order-key-case",
    request: suiteRequest("GET", { query: { Param2: "value2", Param1: "value1" } }),
    signedHeaders: "host;x-amz-date",
    signature: "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
  },
  {
    name: "post-vanilla",
    request: suiteRequest("POST"),
    signedHeaders: "host;x-amz-date",
    signature: "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
  },
  {
    name: "post-x-www-form-urlencoded",
    request: suiteRequest("POST", {
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "Param1=value1",
    }),
    signedHeaders: "content-type;host;x-amz-date",
    signature: "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a",
  },
  {
    name: "post-sts-header-before",
    sessionToken: SUITE_TOKEN,
    request: suiteRequest("POST"),
    signedHeaders: "host;x-amz-date;x-amz-security-token",
    signature: "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead",
  },
];

for (const vector of vectors) {
  Deno.test(`SigV4 test suite: ${vector.name}`, async () => {
    const credentials = {
      ...SUITE,
      ...(vector.sessionToken ? { sessionToken: vector.sessionToken } : {}),
    };
    const signer = new RequestSigner({ credentials, region: "us-east-1", service: "service" });
    const headers = await signer.sign(vector.request, SUITE_AT);
    assert.equal(
      headers.authorization,
      `AWS4-HMAC-SHA256 Credential=${SUITE_SCOPE}, SignedHeaders=${vector.signedHeaders}, ` +
        `Signature=${vector.signature}`,
    );
    assert.equal(headers["x-amz-date"], "20150830T123600Z");
    assert.equal(headers["x-amz-security-token"], vector.sessionToken);
  });
}

Deno.test("SigV4 for S3: the API reference's ranged GET Object example", async () => {
  const signer = new RequestSigner({
    credentials: {
      accessKeyId: "AKIAIOSFODNN7EXAMPLE",
      secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    },
    region: "us-east-1",
  });
  const headers = await signer.sign({
    method: "GET",
    hostname: "examplebucket.s3.amazonaws.com",
    path: "/test.txt",
    headers: {
      host: "examplebucket.s3.amazonaws.com",
      range: "bytes=0-9",
      "x-amz-content-sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    },
  }, new Date("2013-05-24T00:00:00Z"));
  assert.equal(
    headers.authorization,
    "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, " +
      "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, " +
      "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
  );
});

Deno.test("SigV4: a credential provider is asked for every request", async () => {
  let calls = 0;
  const signer = new RequestSigner({
    credentials: () => Promise.resolve({ ...SUITE, sessionToken: `token-${++calls}` }),
    region: "us-east-1",
    service: "service",
  });
  const first = await signer.sign(suiteRequest("GET"), SUITE_AT);
  const second = await signer.sign(suiteRequest("GET"), SUITE_AT);
  assert.equal(first["x-amz-security-token"], "token-1");
  assert.equal(second["x-amz-security-token"], "token-2");
  assert.notEqual(first.authorization, second.authorization, "the token is signed");
});
