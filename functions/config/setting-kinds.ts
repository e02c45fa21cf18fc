/**
 * The kinds of deployment setting (functions/config/settings.ts): the `Setting` shape and the builders of its
 * entries (whole numbers, numbers, https URLs, one of a few words, string lists, optional service ids, optional text), each
 * with its parser and how it writes the value as an environment variable. Pure TypeScript, like settings.ts.
 */
import { SERVICE_ID_EXPECTED, serviceIdOf } from '../domain/service-id';

/** How a value is read: at synth (strict) or in a function. */
export interface ParseOptions {
  /**
   * true at synth: refuse what the functions would quietly normalise (a blank role, an origin not written as
   * `https://host[:port]`), so cdk.json says exactly what is deployed.
   */
  readonly strict: boolean;
  /** Reports a bad value: `at` names a list element (`[1]`), `expected` says what would be accepted. */
  readonly problem: (value: unknown, expected: string, at?: string) => void;
}

/** One deployment setting. */
export interface Setting<T, E extends string = string, C extends boolean = boolean> {
  /** true: set at synth with the CDK context key of the same name; false: functions only (the default applies in AWS). */
  readonly context: C;
  /** The environment variable that carries it to the functions. */
  readonly env: E;
  /** The value when the context key or the variable is not set (or empty). */
  readonly default: T;
  /** What it means, in one line. */
  readonly description: string;
  /**
   * Parses a set value: a string (an environment variable, `-c key=value`) or a JSON value (cdk.json). Reports
   * every problem through `options.problem` and then returns undefined.
   */
  parse(raw: unknown, options: ParseOptions): T | undefined;
  /** The value as its environment variable holds it (read back by `parse`). */
  format(value: T): string;
}

export interface Common<E extends string, C extends boolean> {
  readonly context: C;
  readonly env: E;
  readonly description: string;
}

/** An integer in [min, max]; `unit` and `note` go into the message (`a whole number of seconds from 0 to 60 (note)`). */
export function wholeNumber<E extends string, C extends boolean>(
  spec: Common<E, C> & { default: number; min: number; max: number; unit?: string; note?: string },
): Setting<number, E, C> {
  const { min, max, unit, note, ...common } = spec;
  return number(
    { ...common, expected: `a whole number${unit ? ` ${unit}` : ''} from ${min} to ${max}${note ? ` (${note})` : ''}` },
    (n) => Number.isInteger(n) && n >= min && n <= max,
  );
}

/** A decimal number: JSON numbers, or strings such as "0.9", " 28 " or "1e-7" (what `String(number)` writes). */
const DECIMAL = /^\s*-?\d+(\.\d+)?(e[-+]?\d+)?\s*$/i;

/** A number that `valid` accepts; `expected` says which, for the message. */
export function number<E extends string, C extends boolean>(
  spec: Common<E, C> & { default: number; expected: string },
  valid: (n: number) => boolean,
): Setting<number, E, C> {
  const { expected, ...common } = spec;
  return {
    ...common,
    parse(raw, { problem }) {
      const n = typeof raw === 'number' ? raw : typeof raw === 'string' && DECIMAL.test(raw) ? Number(raw) : NaN;
      if (Number.isFinite(n) && valid(n)) return n;
      problem(raw, expected);
      return undefined;
    },
    format: (n) => String(n),
  };
}

/** An https base URL; trailing slashes are dropped. */
export function httpsUrl<E extends string, C extends boolean>(
  spec: Common<E, C> & { default: string },
): Setting<string, E, C> {
  const expected = `an https URL without credentials, query or fragment, e.g. ${show(spec.default)}`;
  return {
    ...spec,
    parse(raw, { problem }) {
      if (typeof raw === 'string' && URL.canParse(raw)) {
        const url = new URL(raw);
        if (url.protocol === 'https:' && !url.username && !url.password && !url.search && !url.hash)
          return raw.replace(/\/+$/, '');
      }
      problem(raw, expected);
      return undefined;
    },
    format: (url) => url,
  };
}

/** One of a few words. */
export function oneOf<V extends string, E extends string, C extends boolean>(
  spec: Common<E, C> & { default: V; values: readonly V[] },
): Setting<V, E, C> {
  const { values, ...common } = spec;
  const quoted = values.map((v) => JSON.stringify(v));
  const expected = `${quoted.slice(0, -1).join(', ')} or ${quoted.at(-1)}`;
  return {
    ...common,
    parse(raw, { problem }) {
      const found = values.find((v) => v === raw);
      if (found === undefined) problem(raw, expected);
      return found;
    },
    format: (value) => value,
  };
}

/**
 * A list of strings: a JSON array, or a string holding one (an environment variable, `-c key=[...]`). `element`
 * returns the value to keep, or undefined to drop it (after `bad`, which reports it, when it is wrong).
 */
export function stringList<E extends string, C extends boolean>(
  spec: Common<E, C> & {
    expected: string;
    element: (s: string, bad: (expected: string) => void, strict: boolean) => string | undefined;
  },
): Setting<readonly string[], E, C> {
  const { expected, element, ...common } = spec;
  return {
    ...common,
    default: [],
    parse(raw, { strict, problem }) {
      let list: unknown = raw;
      if (typeof raw === 'string') {
        try {
          list = JSON.parse(raw);
        } catch {
          list = undefined;
        }
      }
      if (!Array.isArray(list) || !list.every((s) => typeof s === 'string')) {
        problem(raw, `${expected}, as a JSON array of strings`);
        return undefined;
      }
      const out: string[] = [];
      let ok = true;
      list.forEach((s: string, i) => {
        const value = element(
          s,
          (why) => {
            ok = false;
            problem(s, why, `[${i}]`);
          },
          strict,
        );
        if (value !== undefined) out.push(value);
      });
      return ok ? out : undefined;
    },
    format: (list) => JSON.stringify(list),
  };
}

/**
 * An optional Identity Plus service id (functions/domain/service-id.ts), lower-cased. Unset by default: the
 * functions then get no variable for it. At synth (strict) a value that is not already lower case is refused,
 * so cdk.json says exactly what is deployed.
 */
export function optionalServiceId<E extends string, C extends boolean>(
  spec: Common<E, C> & { note: string },
): Setting<string | undefined, E, C> {
  const { note, ...common } = spec;
  return {
    ...common,
    default: undefined,
    parse(raw, { strict, problem }) {
      const id = typeof raw === 'string' ? serviceIdOf(raw) : undefined;
      if (id !== undefined && !(strict && id !== raw)) return id;
      problem(raw, `${strict ? 'lower case, ' : ''}${SERVICE_ID_EXPECTED} (${note})`);
      return undefined;
    },
    format: (id) => id ?? '',
  };
}

/**
 * Optional plain text shown to people (a page paragraph): 1 to `max` characters, no control characters
 * (line breaks included); pages escape it. Unset or empty = the page's own words.
 */
export function optionalText<E extends string, C extends boolean>(
  spec: Common<E, C> & { max: number },
): Setting<string | undefined, E, C> {
  const { max, ...common } = spec;
  return {
    ...common,
    default: undefined,
    parse(raw, { problem }) {
      if (typeof raw === 'string' && raw.trim() !== '' && [...raw].length <= max && !hasControlCharacter(raw))
        return raw.trim();
      problem(raw, `plain text of 1 to ${max} characters on one line`);
      return undefined;
    },
    format: (text) => text ?? '',
  };
}

function hasControlCharacter(text: string): boolean {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
  return /[\u0000-\u001f\u007f-\u009f]/.test(text);
}

/** A value as it appears in a message: JSON, shortened. */
export function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}
