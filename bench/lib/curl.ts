/** curl's arguments for sending a file as one streaming request body (chunked, not `-d @`). */

/** `-X METHOD`, the `headers`, chunked transfer without `Expect: 100-continue`, `-T file`. */
export function curlStreamArgs(
  method: string,
  headers: string[],
  file: string,
  url: string,
): string[] {
  return [
    "-X",
    method,
    ...[...headers, "Transfer-Encoding: chunked", "Expect:"].flatMap((h) => ["-H", h]),
    "-T",
    file,
    url,
  ];
}

/** A tus PATCH of all of `file` at `offset`, as one streaming body. */
export function curlPatchArgs(url: string, offset: number, file: string): string[] {
  return curlStreamArgs(
    "PATCH",
    [
      "Tus-Resumable: 1.0.0",
      `Upload-Offset: ${offset}`,
      "Content-Type: application/offset+octet-stream",
    ],
    file,
    url,
  );
}
