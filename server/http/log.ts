/**
 * Structured logs: one object per line on stderr, as JSON (default) or as `key=value` text.
 * Callers pass fields; nothing here reads headers, so tokens and metadata values can't leak in.
 */
export type LogLevel = "debug" | "info" | "warn" | "error";
export const LOG_LEVELS: LogLevel[] = ["debug", "info", "warn", "error"];

export type Logger = (level: LogLevel, message: string, fields?: Record<string, unknown>) => void;

export function createLogger(
  format: "json" | "text",
  minimum: LogLevel,
  write: (line: string) => void,
  now: () => number = Date.now,
): Logger {
  const floor = LOG_LEVELS.indexOf(minimum);
  return (level, message, fields = {}) => {
    if (LOG_LEVELS.indexOf(level) < floor) return;
    const entry = { time: new Date(now()).toISOString(), level, message, ...fields };
    write(
      format === "json"
        ? JSON.stringify(entry)
        : Object.entries(entry).map(([k, v]) =>
          `${k}=${typeof v === "string" && !/\s/.test(v) ? v : JSON.stringify(v)}`
        ).join(" "),
    );
  };
}
