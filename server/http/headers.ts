import { parseHeaderInteger } from "../../lib/protocol.ts";

/** A header parsed as a strict integer, or undefined when absent. */
export function integerHeader(req: Request, name: string): number | undefined {
  const value = req.headers.get(name);
  return value === null ? undefined : parseHeaderInteger(name, value);
}

/** The media type of the request without parameters, lower-cased. */
export function mediaType(req: Request): string {
  return (req.headers.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
}
