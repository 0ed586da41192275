/**
 * Lines for people on a terminal: every line the CLI prints fits the terminal's width (80 columns
 * when the output is not a terminal), wrapped at spaces with continuation lines indented. A word
 * longer than the width (a URL) stays whole on a line of its own, so it can still be copied.
 */

/** The width lines are kept within when the output is not a terminal. */
export const DEFAULT_WIDTH = 80;

/** Columns of the terminal behind `stream`, or DEFAULT_WIDTH when it is not one. */
export function widthOf(stream: { isTerminal(): boolean }): number {
  if (!stream.isTerminal()) return DEFAULT_WIDTH;
  try {
    return Math.max(20, Deno.consoleSize().columns);
  } catch {
    return DEFAULT_WIDTH;
  }
}

/** `text` wrapped to `width` columns; continuation lines are indented by `indent` spaces. */
export function wrap(text: string, width: number, indent = 2): string {
  return text.split("\n").map((line) => wrapLine(line, width, indent)).join("\n");
}

function wrapLine(line: string, width: number, indent: number): string {
  if (line.length <= width) return line;
  const lead = /^ */.exec(line)![0];
  const pad = " ".repeat(Math.min(lead.length + indent, Math.floor(width / 2)));
  const out: string[] = [];
  let current = lead;
  for (const word of line.slice(lead.length).split(/ +/)) {
    const fresh = current.trim() === "";
    if (fresh || current.length + 1 + word.length <= width) {
      current += fresh ? word : ` ${word}`;
    } else {
      out.push(current);
      current = pad + word;
    }
  }
  out.push(current);
  return out.join("\n");
}

/** Prints `text` on stdout, wrapped to its width. */
export function say(text: string): void {
  console.log(wrap(text, widthOf(Deno.stdout)));
}

/** Prints `text` on stderr, wrapped to its width. */
export function warn(text: string): void {
  console.error(wrap(text, widthOf(Deno.stderr)));
}
