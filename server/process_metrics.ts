/**
 * The process's own numbers for `GET /metrics`, named as Prometheus client libraries name them
 * (process_resident_memory_bytes, process_cpu_seconds_total, process_open_fds,
 * process_start_time_seconds), and `resumable_build_info{version,deno} 1`. Sampled at each scrape.
 */
import process from "node:process";
import { cString, libc } from "../lib/deno/libc.ts";
import { Family, type Metrics } from "./http/metrics.ts";

export function watchProcess(metrics: Metrics, version: string): void {
  const memory = new Family(
    "process_resident_memory_bytes",
    "Resident memory size in bytes.",
    "gauge",
  );
  const cpu = new Family(
    "process_cpu_seconds_total",
    "Total user and system CPU time spent in seconds.",
    "counter",
  );
  const start = new Family(
    "process_start_time_seconds",
    "Start time of the process since the Unix epoch in seconds.",
    "gauge",
  );
  const build = new Family(
    "resumable_build_info",
    "The running version of resumable and of Deno; always 1.",
    "gauge",
  );
  start.set(Math.floor(performance.timeOrigin) / 1000);
  build.set(1, { version, deno: Deno.version.deno });
  const countFds = fdCounter();
  const fds = new Family("process_open_fds", "Number of open file descriptors.", "gauge");
  metrics.collect([memory, cpu, ...(countFds ? [fds] : []), start, build], () => {
    memory.set(Deno.memoryUsage().rss);
    const used = process.cpuUsage();
    cpu.set((used.user + used.system) / 1e6);
    const open = countFds?.();
    if (open !== undefined) fds.set(open);
  });
}

/**
 * Counts the entries of /proc/self/fd through libc (Deno reserves /proc to --allow-all; the server
 * has --allow-ffi for syncfs). Undefined without FFI or /proc.
 */
function fdCounter(): (() => number | undefined) | undefined {
  const lib = libc();
  if (!lib) return undefined;
  const path = cString("/proc/self/fd");
  const { opendir, readdir, closedir } = lib;
  return () => {
    const dir = opendir(path);
    if (dir === null) return undefined;
    let entries = 0;
    while (readdir(dir) !== null) entries++;
    closedir(dir);
    return entries - 3; // ".", ".." and the directory's own descriptor
  };
}
