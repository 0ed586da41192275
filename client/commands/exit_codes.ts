/** The client's exit code for each error code (listed in the usage text); any other error is 1. */
export const EXIT: Record<string, number> = {
  usage: 2,
  "bad-command": 2,
  "digest-mismatch": 3,
  "gave-up": 4,
  rejected: 5,
  "file-changed": 6,
  aborted: 130,
};
