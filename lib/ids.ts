/** Upload ids: 128 random bits as 32 lowercase hex characters (URL-safe, fan-out friendly). */
const ID = /^[0-9a-f]{32}$/;

export function newUploadId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** True only for ids this server could have made; checked before any path is built from one. */
export function isUploadId(id: string): boolean {
  return ID.test(id);
}
