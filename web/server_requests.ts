/** The page's own requests beside the upload core: deleting an upload, reading the size limit. */
import { H, TUS_VERSION } from "../lib/protocol.ts";
import { authHeaders } from "./token.ts";

/** DELETE an upload on the server; undefined on success, else what went wrong. */
export async function deleteUpload(url: string): Promise<string | undefined> {
  try {
    const res = await fetch(url, {
      method: "DELETE",
      headers: { [H.tusResumable]: TUS_VERSION, ...authHeaders() },
    });
    await res.body?.cancel();
    if (res.ok || res.status === 404 || res.status === 410) return undefined;
    return `Cancelled here, but the server refused to delete it (${res.status}).`;
  } catch {
    return "Cancelled here, but the server could not be reached to delete it.";
  }
}

/** The largest upload the server accepts, from OPTIONS; undefined when it names none. */
export async function maxSize(endpoint: string): Promise<number | undefined> {
  const res = await fetch(endpoint, {
    method: "OPTIONS",
    headers: { [H.tusResumable]: TUS_VERSION },
  });
  await res.body?.cancel();
  const max = Number(res.headers.get(H.tusMaxSize) ?? "");
  return res.ok && Number.isSafeInteger(max) && max > 0 ? max : undefined;
}
