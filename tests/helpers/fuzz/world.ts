/** The uploads the fuzzer is given: sentinels that must never change, and scratch ones. */
import assert from "node:assert/strict";
import { forgeJwt, nowSeconds } from "../safety.ts";
import type { TestServer } from "../server.ts";
import { randomBytes } from "../uploads.ts";
import { OCTETS, SECRET } from "./constants.ts";

export interface Sentinel {
  name: string;
  id: string;
  path: string;
  /** Committed bytes; they must never change. */
  content: Uint8Array;
  length: number | undefined;
}

export interface World {
  server: TestServer;
  auth: boolean;
  /** Owner of the sentinels (auth on). */
  alice?: string;
  /** Another valid user (auth on). */
  bob?: string;
  sentinels: Sentinel[];
  /** Uploads the fuzzer may change at will. */
  scratch: string[];
}

export async function request(
  world: World,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: Uint8Array<ArrayBuffer>,
): Promise<{ status: number; headers: Headers; text: string }> {
  const all = { ...headers };
  if (world.alice) all["Authorization"] = `Bearer ${world.alice}`;
  const res = await fetch(world.server.origin + path, {
    method,
    headers: all,
    ...(body ? { body } : {}),
  });
  const text = method === "HEAD" ? (await res.body?.cancel(), "") : await res.text();
  return { status: res.status, headers: res.headers, text };
}

export async function makeUpload(
  world: World,
  headers: Record<string, string>,
  content?: Uint8Array<ArrayBuffer>,
): Promise<string> {
  const res = await request(world, "POST", "/files", headers);
  assert.equal(res.status, 201, res.text);
  const path = new URL(res.headers.get("location")!).pathname;
  if (content && content.length > 0) {
    const patched = await request(world, "PATCH", path, {
      "Content-Type": OCTETS,
      "Upload-Offset": "0",
    }, content);
    assert.equal(patched.status, 204, patched.text);
  }
  return path;
}

export async function setUp(server: TestServer, auth: boolean): Promise<World> {
  const exp = nowSeconds() + 3600;
  const world: World = {
    server,
    auth,
    sentinels: [],
    scratch: [],
    ...(auth
      ? {
        alice: forgeJwt({ sub: "alice", exp }, SECRET),
        bob: forgeJwt({ sub: "bob", exp }, SECRET),
      }
      : {}),
  };
  const specs: [string, Record<string, string>, number][] = [
    ["complete", { "Upload-Length": "3000" }, 3000],
    ["incomplete", { "Upload-Length": "5000" }, 2000],
    ["complete partial", { "Upload-Length": "1500", "Upload-Concat": "partial" }, 1500],
    ["deferred", { "Upload-Defer-Length": "1" }, 700],
  ];
  for (const [i, [name, headers, committed]] of specs.entries()) {
    const content = randomBytes(committed, 9000 + i);
    const path = await makeUpload(world, {
      ...headers,
      "Upload-Metadata": `filename ${btoa(`${name}.bin`)}`,
    }, content);
    const length = headers["Upload-Length"];
    world.sentinels.push({
      name,
      id: path.split("/").pop()!,
      path,
      content,
      length: length === undefined ? undefined : Number(length),
    });
  }
  world.scratch.push(
    await makeUpload(world, { "Upload-Length": "100000" }),
    await makeUpload(world, { "Upload-Defer-Length": "1" }),
    await makeUpload(world, { "Upload-Length": "5000", "Upload-Concat": "partial" }),
    await makeUpload(world, { "Upload-Length": "10", "Upload-Concat": "partial" }, randomBytes(10)),
  );
  return world;
}
