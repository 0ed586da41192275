/**
 * The two Structured Field Item types (RFC 9651) the IETF draft's fields use: an Integer
 * (`Upload-Offset`, `Upload-Length`) and a Boolean (`Upload-Complete`). Parameters are allowed
 * after the value and ignored, as the drafts define none.
 */

const KEY = "[a-z*][a-z0-9_.*-]*";
const BARE =
  '(?:-?[0-9]{1,15}(?:\\.[0-9]{1,3})?|"(?:[^"\\\\]|\\\\["\\\\])*"|[A-Za-z*][!#$%&\'*+.^_`|~:/0-9A-Za-z-]*|:[A-Za-z0-9+/=]*:|\\?[01])';
const PARAMS = `(?:;\\s*${KEY}(?:=${BARE})?)*`;
const INTEGER_ITEM = new RegExp(`^(-?[0-9]{1,15})${PARAMS}$`);
const BOOLEAN_ITEM = new RegExp(`^\\?([01])${PARAMS}$`);

/** An sf-integer item's value, or undefined when the text is not one. */
export function parseSfInteger(text: string): number | undefined {
  const match = INTEGER_ITEM.exec(text.trim());
  return match ? Number(match[1]) : undefined;
}

/** An sf-boolean item's value, or undefined when the text is not one. */
export function parseSfBoolean(text: string): boolean | undefined {
  const match = BOOLEAN_ITEM.exec(text.trim());
  return match ? match[1] === "1" : undefined;
}
