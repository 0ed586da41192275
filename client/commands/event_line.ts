/** One line on stderr for each upload event a person wants to know of (not progress). */
import { formatBytes } from "../../lib/units.ts";
import type { UploadEvent } from "../upload.ts";

export function describe(event: Exclude<UploadEvent, { type: "progress" | "completed" }>): string {
  switch (event.type) {
    case "created":
      return `created ${part(event)}${event.url}`;
    case "resumed":
      return `resuming ${part(event)}${event.url} at ${
        formatBytes(event.offset)
      } (the server's offset)`;
    case "restarted":
      return `restarting ${part(event)}: ${event.reason}`;
    case "retry":
      return `retry ${event.attempt} ${part(event)}in ${
        (event.delayMs / 1000).toFixed(1)
      }s: ${event.reason}`;
    case "notice":
      return `note: ${event.message}`;
  }
}

function part(event: { part?: number }): string {
  return event.part === undefined ? "" : `part ${event.part + 1} `;
}
