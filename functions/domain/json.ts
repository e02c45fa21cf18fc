/** Shapes of parsed JSON, shared by everything that reads JSON from outside (wire answers, request bodies). */

/** True for a JSON object: not null, not an array. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
