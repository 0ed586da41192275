/** `client generate FILE --size SIZE`: pseudo-random bytes, deterministic for a seed. */
import { formatBytes, parseSize } from "../../lib/units.ts";
import { generateFile } from "../generate.ts";
import { parseCommand, usage } from "./flags.ts";

export async function generateCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCommand(args, {
    size: { type: "string" },
    seed: { type: "string", default: "0" },
  });
  if (positionals.length !== 1) usage("generate takes exactly one FILE");
  if (values.size === undefined) usage("generate needs --size");
  if (!/^\d{1,15}$/.test(values.seed)) usage(`Invalid --seed ${values.seed}`);
  const size = parseSize(values.size);
  await generateFile(positionals[0]!, size, Number(values.seed));
  console.log(`wrote ${formatBytes(size)} to ${positionals[0]} (seed ${values.seed})`);
  return 0;
}
