/**
 * Optional properties, spelled so that `exactOptionalPropertyTypes` lets a caller pass a value that
 * may be undefined (`{ usage: maybeUsage }`) and means "absent" by it.
 */
export type OrUndefined<T> = { [K in keyof T]?: T[K] | undefined };

/** `T` with its possibly-undefined properties made optional and never undefined. */
export type Defined<T> =
  & { [K in keyof T as undefined extends T[K] ? never : K]: T[K] }
  & { [K in keyof T as undefined extends T[K] ? K : never]?: Exclude<T[K], undefined> };

/**
 * A copy of `object` without its undefined properties: `{ ...defined({ url, owner }) }` instead of
 * one `...(x === undefined ? {} : { x })` per property.
 */
export function defined<T extends object>(object: T): Defined<T> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(object)) if (value !== undefined) out[key] = value;
  return out as Defined<T>;
}

/** `convert(value)`, or undefined when there is no value (null or undefined): for `defined()`. */
export function present<T, R>(
  value: T | null | undefined,
  convert: (value: T) => R,
): R | undefined {
  return value === null || value === undefined ? undefined : convert(value);
}
