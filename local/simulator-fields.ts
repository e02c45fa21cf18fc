/**
 * Reading the fields of an API request envelope, as the simulator's request checks do
 * (simulator-requests.ts). A field that is absent, `null` or `""` counts as missing: the Java client leaves
 * out empty strings and zero numbers, the PHP client sends unset fields as `null`. A missing required field
 * is `ER 0011 Incomplete Message Error`, a value of the wrong shape `ER 0001 Unknown request error`, each with
 * a message naming the field. Unknown fields are tolerated (the Java client's reader keeps them as custom
 * fields). Pure.
 */
import { isIP } from 'node:net';
import { wireSerial } from './simulator-input';
import type { OutcomeCode } from './simulator-outcomes';

/** A request the simulator refuses: the outcome code to answer and the message naming what is wrong. */
export interface RequestProblem {
  readonly code: OutcomeCode;
  readonly message: string;
}

/** Thrown by the readers below; the request checks turn it into a {@link RequestProblem}. */
export class FieldProblem extends Error {
  constructor(
    readonly code: OutcomeCode,
    message: string,
  ) {
    super(message);
  }
}

/** Control characters (C0, DEL, C1): never part of a name. */
const CONTROL = /\p{Cc}/u;

/** True when the field is absent, `null` or `""`. */
export function isMissing(value: unknown): boolean {
  return value === undefined || value === null || value === '';
}

/** A required string of at most `max` characters. */
export function requiredText(body: Record<string, unknown>, field: string, max: number): string {
  const value = optionalText(body, field, max);
  if (value === undefined) throw missing(field);
  return value;
}

/** An optional string of at most `max` characters. */
export function optionalText(body: Record<string, unknown>, field: string, max: number): string | undefined {
  const value = body[field];
  if (isMissing(value)) return undefined;
  if (typeof value !== 'string') throw invalid(`${field} must be a string.`);
  if (value.length > max) throw invalid(`${field} must be at most ${max} characters.`);
  return value;
}

/** A required certificate serial, decimal or `0x`-hex; answered decimal. */
export function requiredSerial(body: Record<string, unknown>, field: string): string {
  const value = body[field];
  if (isMissing(value)) throw missing(field);
  if (typeof value !== 'string') throw invalid(`${field} must be a string.`);
  const serial = wireSerial(value);
  if (serial === undefined) throw invalid(`${field} must be a decimal number or 0x-prefixed hexadecimal.`);
  return serial;
}

/**
 * A required local user name: 1–256 characters, no control characters. A JSON integer is read as its decimal
 * text, since the WordPress plugin sends WordPress user ids (numbers) as local user names.
 */
export function requiredUserName(body: Record<string, unknown>, field: string): string {
  const value = body[field];
  if (isMissing(value)) throw missing(field);
  const name = Number.isSafeInteger(value) ? String(value) : value;
  if (typeof name !== 'string') throw invalid(`${field} must be a string.`);
  if (name.length > 256 || CONTROL.test(name)) {
    throw invalid(`${field} must be 1 to 256 characters without control characters.`);
  }
  return name;
}

/** An optional whole number from 0 to `max`, as a JSON number or a string of digits. */
export function optionalCount(body: Record<string, unknown>, field: string, max: number): number | undefined {
  const value = body[field];
  if (isMissing(value)) return undefined;
  const count = typeof value === 'string' && /^[0-9]{1,16}$/.test(value) ? Number(value) : value;
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 0 || count > max) {
    throw invalid(`${field} must be a whole number from 0 to ${max}.`);
  }
  return count;
}

/** An optional boolean. */
export function optionalBoolean(body: Record<string, unknown>, field: string): boolean | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw invalid(`${field} must be true or false.`);
  return value;
}

/** An optional IPv4 or IPv6 address. */
export function optionalIp(body: Record<string, unknown>, field: string): string | undefined {
  const value = optionalText(body, field, 64);
  if (value !== undefined && isIP(value) === 0) throw invalid(`${field} must be an IPv4 or IPv6 address.`);
  return value;
}

/** An optional list of at most `maxItems` strings of at most `maxLength` characters each. */
export function optionalTextList(
  body: Record<string, unknown>,
  field: string,
  maxItems: number,
  maxLength: number,
): string[] | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (
    !Array.isArray(value) ||
    value.length > maxItems ||
    !value.every((item) => typeof item === 'string' && item.length <= maxLength)
  ) {
    throw invalid(`${field} must be a list of at most ${maxItems} strings of at most ${maxLength} characters.`);
  }
  return [...value];
}

/**
 * An optional word from `choices` (their normal form, words joined by spaces); the request may join the
 * words with spaces or hyphens (the Java client sends spaces, the PHP client hyphens).
 */
export function optionalChoice(
  body: Record<string, unknown>,
  field: string,
  choices: readonly string[],
): string | undefined {
  const value = body[field];
  if (isMissing(value)) return undefined;
  const normal = typeof value === 'string' ? value.replace(/-/g, ' ') : undefined;
  if (normal === undefined || !choices.includes(normal)) {
    throw invalid(`${field} must be one of: ${choices.join(', ')}.`);
  }
  return normal;
}

/** `ER 0011` for a required field that is not there. */
export function missing(field: string): FieldProblem {
  return new FieldProblem('ER 0011', `${field} is missing.`);
}

/** `ER 0001` for a value of the wrong shape. */
export function invalid(message: string): FieldProblem {
  return new FieldProblem('ER 0001', message);
}
