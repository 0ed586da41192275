/**
 * The IETF draft at every interop version we speak (3 to 8), table-driven: `EXPECTED` says, in
 * the drafts' words and independently of lib/ietf_versions.ts, what each version requires; every
 * rule below runs once per version against it.
 */
import assert from "node:assert/strict";
import { DigestState, formatReprDigest } from "../../../lib/deno/digest.ts";
import { bytes, harness, idOf, type Reply, request, stored } from "./test_harness.ts";

const PARTIAL = "application/partial-upload";
const IANA = "https://iana.org/assignments/http-problem-types#";

interface Expected {
  /** The completeness field and its values for complete and incomplete. */
  field: "Upload-Complete" | "Upload-Incomplete";
  complete: string;
  incomplete: string;
  /** The media type an append must have, if any. */
  appendType?: string;
  appendStatus: number;
  /** An append without the completeness field: completes, continues, or is refused (400). */
  bare: "completes" | "continues" | 400;
  /** `Upload-Limit` with --max-size 1000 and the default 24 h expiry, right after creation. */
  limit: string | null;
  /** Problem types defined. */
  types: { mismatch: boolean; completed: boolean; inconsistent: boolean };
  /** HEAD and DELETE with Upload-Offset are refused. */
  refusesOffsetOnHead: boolean;
  /** A terminated upload answers. */
  gone: 404 | 410;
  /** Error responses to an append say `Upload-Complete: ?0`. */
  errorsSayIncomplete: boolean;
  /** An unparsable Upload-Length on a creation: refused (400) or ignored (201). */
  badLength: 400 | 201;
  /** After a body past the upload's length, the upload is gone (410) or stays (204). */
  afterOverflow: 410 | 204;
}

const OLD: Omit<Expected, "field" | "complete" | "incomplete"> = {
  appendStatus: 201,
  bare: "continues",
  limit: null,
  types: { mismatch: false, completed: false, inconsistent: false },
  refusesOffsetOnHead: true,
  gone: 404,
  errorsSayIncomplete: false,
  badLength: 400,
  afterOverflow: 204,
};
const COMPLETE = { field: "Upload-Complete", complete: "?1", incomplete: "?0" } as const;
const NEW: Expected = {
  ...COMPLETE,
  appendType: PARTIAL,
  appendStatus: 204,
  bare: 400,
  limit: "max-size=1000, max-age=86400",
  types: { mismatch: true, completed: true, inconsistent: true },
  refusesOffsetOnHead: false,
  gone: 410,
  errorsSayIncomplete: true,
  badLength: 400,
  afterOverflow: 204,
};

const EXPECTED: Record<number, Expected> = {
  3: {
    ...OLD,
    field: "Upload-Incomplete",
    complete: "?0",
    incomplete: "?1",
    bare: "completes",
  },
  4: { ...OLD, ...COMPLETE },
  5: { ...OLD, ...COMPLETE },
  6: {
    ...OLD,
    ...COMPLETE,
    appendType: PARTIAL,
    limit: "max-size=1000, expires=86400",
    types: { mismatch: true, completed: true, inconsistent: false },
  },
  7: NEW,
  8: { ...NEW, badLength: 201, afterOverflow: 410 },
};

/** One version's client: requests as the draft at that version shapes them. */
function draft(v: number) {
  const e = EXPECTED[v]!;
  const h = harness({ config: { maxSize: 1000 } });
  const base = { "Upload-Draft-Interop-Version": String(v) };
  const flag = (complete: boolean) => ({ [e.field]: complete ? e.complete : e.incomplete });
  const create = (complete: boolean, data?: Uint8Array<ArrayBuffer>, extra = {}) =>
    h.send(request("POST", "/files", {
      headers: {
        ...base,
        ...flag(complete),
        ...(data ? { "Content-Length": String(data.length) } : {}),
        ...extra,
      },
      ...(data ? { body: data } : {}),
    }));
  const append = (
    id: string,
    offset: number,
    data: Uint8Array<ArrayBuffer>,
    complete: boolean | undefined,
    extra: Record<string, string> = {},
  ) =>
    h.send(request("PATCH", `/files/${id}`, {
      headers: {
        ...base,
        ...(e.appendType ? { "Content-Type": e.appendType } : {}),
        "Content-Length": String(data.length),
        "Upload-Offset": String(offset),
        ...(complete === undefined ? {} : flag(complete)),
        ...extra,
      },
      body: data,
    }));
  const head = (id: string, extra: Record<string, string> = {}) =>
    h.send(request("HEAD", `/files/${id}`, { headers: { ...base, ...extra } }));
  const del = (id: string, extra: Record<string, string> = {}) =>
    h.send(request("DELETE", `/files/${id}`, { headers: { ...base, ...extra } }));
  /** Asserts the completeness field (and never the other version's). */
  const says = (res: Reply, complete: boolean, why: string) => {
    assert.equal(res.headers.get(e.field), complete ? e.complete : e.incomplete, why);
    const other = e.field === "Upload-Complete" ? "Upload-Incomplete" : "Upload-Complete";
    assert.equal(res.headers.get(other), null, `${why}: no ${other}`);
  };
  return { e, h, create, append, head, del, says };
}

/** Asserts a problem document of the given type (a draft type, or about:blank). */
function assertProblem(res: Reply, status: number, type: string | null, v: number) {
  assert.equal(res.status, status, res.text);
  assert.equal(res.headers.get("content-type"), "application/problem+json");
  assert.equal(res.headers.get("upload-draft-interop-version"), String(v));
  const body = JSON.parse(res.text);
  assert.equal(body.type, type === null ? "about:blank" : IANA + type);
  assert.ok(typeof body.title === "string" && body.title.length > 0);
  return body;
}

const RULES: Record<string, (v: number) => Promise<void>> = {
  async "creation without a body: 201, Location, offset 0, incomplete, its limits"(v) {
    const { e, create, says } = draft(v);
    const res = await create(false);
    assert.equal(res.status, 201, res.text);
    idOf(res.headers.get("location"));
    assert.equal(res.headers.get("upload-offset"), "0");
    assert.equal(res.headers.get("upload-draft-interop-version"), String(v));
    assert.equal(res.headers.get("upload-limit"), e.limit);
    says(res, false, "creation");
  },

  async "creation with the whole body: complete, its length the body's"(v) {
    const { h, create, says } = draft(v);
    const res = await create(true, bytes(25), { "Content-Type": "image/png" });
    assert.equal(res.status, 201, res.text);
    assert.equal(res.headers.get("upload-offset"), "25");
    says(res, true, "complete creation");
    const id = idOf(res.headers.get("location"));
    assert.deepEqual(await stored(h.store, id), { offset: 25, length: 25, data: bytes(25) });
  },

  async "a creation cut mid-body: 104 with Location first, then resumed via HEAD and append"(v) {
    const e = EXPECTED[v]!;
    const sent: { status: number; headers: Record<string, string> }[] = [];
    const h = harness({
      config: { maxSize: 1000 },
      informational: (_req, status, headers) => {
        sent.push({ status, headers });
        return true;
      },
    });
    const base = { "Upload-Draft-Interop-Version": String(v) };
    let pulls = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (pulls++ === 0) controller.enqueue(bytes(10));
        else controller.error(new Error("connection lost"));
      },
    });
    const cut = await h.send(request("POST", "/files", {
      headers: { ...base, [e.field]: e.incomplete, "Content-Length": "30" },
      body,
    }));
    assert.equal(cut.status, 400, cut.text);
    assert.equal(sent.length, 1, "one 104");
    assert.equal(sent[0]!.status, 104);
    assert.equal(sent[0]!.headers["Upload-Draft-Interop-Version"], String(v));
    assert.equal(sent[0]!.headers["Upload-Limit"], e.limit ?? undefined);
    assert.equal(sent[0]!.headers["Upload-Offset"], undefined);
    const id = idOf(sent[0]!.headers["Location"]!);

    const head = await h.send(request("HEAD", `/files/${id}`, { headers: base }));
    assert.equal(head.status, 204);
    assert.equal(head.headers.get("upload-offset"), "10");
    assert.equal(head.headers.get(e.field), e.incomplete);
    assert.equal(head.headers.get("cache-control"), "no-store");
    assert.equal(head.headers.get("upload-limit"), e.limit);
    assert.equal(head.headers.get("upload-length"), null, "no length was given");
    assert.equal(head.headers.get("upload-defer-length"), null, "a tus field");
    const rest = await h.send(request("PATCH", `/files/${id}`, {
      headers: {
        ...base,
        ...(e.appendType ? { "Content-Type": e.appendType } : {}),
        "Upload-Offset": "10",
        [e.field]: e.complete,
      },
      body: bytes(20, 10),
    }));
    assert.equal(rest.status, e.appendStatus, rest.text);
    assert.deepEqual((await stored(h.store, id))?.data, bytes(30));
  },

  async "append: the version's media type and status; completion with Repr-Digest"(v) {
    const { e, h, create, append, says } = draft(v);
    const id = idOf((await create(false)).headers.get("location"));
    const wrongType = await append(id, 0, bytes(5), false, { "Content-Type": "text/plain" });
    if (e.appendType) assertProblem(wrongType, 415, null, v);
    else assert.equal(wrongType.status, e.appendStatus, "any media type before version 6");
    const at = e.appendType ? 0 : 5;
    const first = await append(id, at, bytes(60 - at, at), false);
    assert.equal(first.status, e.appendStatus, first.text);
    assert.equal(first.headers.get("upload-offset"), "60");
    says(first, false, "incomplete append");
    const last = await append(id, 60, bytes(40, 60), true);
    assert.equal(last.status, e.appendStatus, last.text);
    assert.equal(last.headers.get("upload-offset"), "100");
    says(last, true, "completing append");
    const expected = new DigestState();
    expected.update(bytes(100));
    assert.equal(last.headers.get("repr-digest"), formatReprDigest(expected.digest()));
    assert.deepEqual(await stored(h.store, id), { offset: 100, length: 100, data: bytes(100) });
  },

  async "an append without the completeness field follows the version"(v) {
    const { e, h, create, append } = draft(v);
    const id = idOf((await create(false)).headers.get("location"));
    const res = await append(id, 0, bytes(8), undefined);
    if (e.bare === 400) {
      assertProblem(res, 400, null, v);
      assert.equal((await stored(h.store, id))?.offset, 0);
    } else {
      assert.equal(res.status, e.appendStatus, res.text);
      assert.equal((await stored(h.store, id))?.length, e.bare === "completes" ? 8 : undefined);
    }
  },

  async "HEAD and DELETE carrying Upload-Offset; DELETE; the upload afterwards"(v) {
    const { e, create, head, del } = draft(v);
    const id = idOf((await create(false)).headers.get("location"));
    const badHead = await head(id, { "Upload-Offset": "0" });
    assert.equal(badHead.status, e.refusesOffsetOnHead ? 400 : 204);
    const badDelete = await del(id, { "Upload-Offset": "0" });
    if (e.refusesOffsetOnHead) assertProblem(badDelete, 400, null, v);
    else assert.equal(badDelete.status, 204);
    if (e.refusesOffsetOnHead) assert.equal((await del(id)).status, 204);
    assert.equal((await head(id)).status, e.gone);
    assertProblem(await del(id), 404, null, v);
  },

  async "problem documents: mismatched offset, completed upload, inconsistent length"(v) {
    const { e, create, append, says } = draft(v);
    const id = idOf((await create(false)).headers.get("location"));
    await append(id, 0, bytes(10), false);
    const mismatch = await append(id, 3, bytes(10), false);
    const body = assertProblem(
      mismatch,
      409,
      e.types.mismatch ? "mismatching-upload-offset" : null,
      v,
    );
    assert.equal(mismatch.headers.get("upload-offset"), "10");
    if (e.types.mismatch) {
      assert.equal(body["expected-offset"], 10);
      assert.equal(body["provided-offset"], 3);
    }
    if (e.errorsSayIncomplete) says(mismatch, false, "409");
    else assert.equal(mismatch.headers.get(e.field), null);

    const sized = idOf((await create(false, undefined, { "Upload-Length": "10" }))
      .headers.get("location"));
    const short = await append(sized, 0, bytes(4), true);
    assertProblem(short, 400, e.types.inconsistent ? "inconsistent-upload-length" : null, v);
    assert.equal(short.headers.get("upload-offset"), "0", "nothing was appended");

    await append(id, 10, bytes(0), true);
    const again = await append(id, 10, bytes(1), true);
    assertProblem(again, 400, e.types.completed ? "completed-upload" : null, v);
    assert.equal(again.headers.get("upload-offset"), "10");
  },

  async "an unparsable Upload-Length: refused, or from version 8 ignored"(v) {
    const { e, create } = draft(v);
    const res = await create(false, undefined, { "Upload-Length": "ten" });
    assert.equal(res.status, e.badLength, res.text);
    const params = await create(false, undefined, { "Upload-Length": "10;unit=bytes" });
    assert.equal(params.status, 201, "a structured integer may carry parameters");
  },

  async "a body past the upload's length: 413, and from version 8 the upload ends"(v) {
    const { e, create, append, head } = draft(v);
    const id = idOf((await create(false, undefined, { "Upload-Length": "10" }))
      .headers.get("location"));
    const over = await append(id, 0, bytes(12), false);
    assert.equal(over.status, 413, over.text);
    assert.equal((await head(id)).status, e.afterOverflow === 410 ? e.gone : 204);
  },

  async "OPTIONS announces Upload-Limit from version 6"(v) {
    const { e, h } = draft(v);
    const res = await h.send(request("OPTIONS", "/files", {
      headers: { "Upload-Draft-Interop-Version": String(v) },
    }));
    assert.equal(res.status, 204);
    assert.equal(res.headers.get("upload-limit"), e.limit);
  },
};

for (const v of [3, 4, 5, 6, 7, 8]) {
  for (const [rule, run] of Object.entries(RULES)) {
    Deno.test(`interop version ${v}: ${rule}`, () => run(v));
  }
}

Deno.test("an unknown interop version is a 400 problem document naming the versions spoken", async () => {
  const h = harness();
  for (const version of ["2", "9", "six", ""]) {
    const res = await h.send(request("POST", "/files", {
      headers: { "Upload-Draft-Interop-Version": version, "Upload-Complete": "?0" },
    }));
    assert.equal(res.status, 400, version);
    assert.equal(res.headers.get("content-type"), "application/problem+json");
    const body = JSON.parse(res.text);
    assert.match(body.title, /3, 4, 5, 6, 7, 8/);
    assert.deepEqual(body["supported-versions"], [3, 4, 5, 6, 7, 8]);
  }
});

Deno.test("OPTIONS without limits says min-size=0 (version 8, and without a version)", async () => {
  const h = harness({ config: { expireMs: 0 } });
  for (const headers of [{ "Upload-Draft-Interop-Version": "8" }, {}]) {
    const res = await h.send(request("OPTIONS", "/files", { headers }));
    assert.equal(res.headers.get("upload-limit"), "min-size=0");
  }
});

Deno.test("tus and plain creations never trigger a 104", async () => {
  const sent: number[] = [];
  const h = harness({
    informational: (_r, status) => {
      sent.push(status);
      return true;
    },
  });
  for (const headers of [{ "Tus-Resumable": "1.0.0", "Upload-Length": "5" }, {}]) {
    const res = await h.send(request("POST", "/files", {
      headers: { ...headers, "Content-Type": "application/offset+octet-stream" },
      body: bytes(5),
    }));
    assert.equal(res.status, 201, res.text);
  }
  assert.deepEqual(sent, []);
});
