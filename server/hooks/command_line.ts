/**
 * Splits a command line (`--on-finish CMD`) into argv the way a shell splits words — and does
 * nothing else a shell does: no variables, no `$(…)`, no globbing, no pipes or redirections. The
 * command runs without a shell, and upload data only ever reaches it on stdin, so nothing an
 * uploader sends can become part of a command.
 *
 * - Whitespace separates arguments.
 * - `'…'` is literal; `"…"` is literal except `\"` and `\\`; outside quotes, `\x` is `x`.
 * - Quotes join with adjacent text (`a"b c"` is one argument `ab c`); `''` is an empty argument.
 */
export function splitCommand(line: string): string[] {
  const args: string[] = [];
  let current = "";
  let inWord = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (/\s/.test(c)) {
      if (inWord) args.push(current);
      current = "";
      inWord = false;
    } else if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new RangeError(`Unterminated ' in command ${JSON.stringify(line)}`);
      current += line.slice(i + 1, end);
      inWord = true;
      i = end;
    } else if (c === '"') {
      let j = i + 1;
      for (; j < line.length && line[j] !== '"'; j++) {
        if (line[j] === "\\" && (line[j + 1] === '"' || line[j + 1] === "\\")) j++;
        current += line[j];
      }
      if (j >= line.length) {
        throw new RangeError(`Unterminated " in command ${JSON.stringify(line)}`);
      }
      inWord = true;
      i = j;
    } else if (c === "\\") {
      if (i + 1 >= line.length) {
        throw new RangeError(`Trailing \\ in command ${JSON.stringify(line)}`);
      }
      current += line[++i];
      inWord = true;
    } else {
      current += c;
      inWord = true;
    }
  }
  if (inWord) args.push(current);
  if (args.length === 0 || args[0] === "") {
    throw new RangeError(`Invalid command ${JSON.stringify(line)}: no program named`);
  }
  return args;
}
