/**
 * What the simulator may be told to behave like, beyond its identities: the envelope of problem answers,
 * the intent types it accepts and the services it may be asked about on behalf of (delegation). Set by the
 * constructor's options, changed by `POST /__admin/settings` or `updateSettings`, restored by a reset.
 * Pure: checks and normal forms only.
 */
import { isPlainObject } from '../functions/domain/json';

/** Which envelope carries a non-OK inquiry outcome (a PB code). */
export type ProblemEnvelope = 'Simple-Response' | 'Identity-Profile';

/** The simulator's settings. */
export interface SimulatorSettings {
  /**
   * `Simple-Response` (outcome and message), or `Identity-Profile` (outcome and the reputation fields):
   * Identity Plus's own gateway reads a PB outcome from inside an `Identity-Profile`.
   */
  readonly problemEnvelope: ProblemEnvelope;
  /** Intent types `PUT Intent` accepts, in their normal form (see {@link intentTypeOf}). */
  readonly acceptedIntentTypes: readonly string[];
  /** Services an `Identity-Inquiry` may name in `service` (asked on their behalf); others get ER 0009. */
  readonly managedServices: readonly string[];
}

export const PROBLEM_ENVELOPES: readonly ProblemEnvelope[] = ['Simple-Response', 'Identity-Profile'];

/**
 * The intent types the Java client's `Intent_Type` enum documents (IdentityPlus/Integration-API-Client-Java
 * @ 77b64b55, src/identity/plus/api/communication/Intent_Type.java), in their wire form: the Java client
 * sends enum names with `_` as a space (`assume ownership`), the PHP client `assume-ownership`.
 */
export const INTENT_TYPES: readonly string[] = [
  'validate',
  'discover',
  'request',
  'bind',
  'assume ownership',
  'befriend',
];

/** The defaults: `discover` is the type every public client that creates sign-in intents sends. */
export const DEFAULT_SETTINGS: SimulatorSettings = {
  problemEnvelope: 'Simple-Response',
  acceptedIntentTypes: ['discover'],
  managedServices: ['managed.plusgate.local'],
};

const SETTING_KEYS = Object.keys(DEFAULT_SETTINGS);
/** A service is a domain name: at most 253 characters of letters, digits, dots and hyphens. */
const SERVICE_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/;

/**
 * The normal form of an intent type (`assume-ownership`, `assume_ownership` and `assume ownership` are one
 * type), or undefined when it is none of {@link INTENT_TYPES}.
 */
export function intentTypeOf(input: string): string | undefined {
  const normal = input.replace(/[-_]/g, ' ');
  return INTENT_TYPES.includes(normal) ? normal : undefined;
}

/** Settings with `changes` applied, or the message saying what is wrong with them (nothing is half applied). */
export function applySettings(
  current: SimulatorSettings,
  changes: unknown,
): { readonly ok: true; readonly value: SimulatorSettings } | { readonly ok: false; readonly message: string } {
  if (!isPlainObject(changes)) return { ok: false, message: 'The settings must be a JSON object.' };
  const unknownKey = Object.keys(changes).find((key) => !SETTING_KEYS.includes(key));
  if (unknownKey !== undefined) {
    return {
      ok: false,
      message: `Unknown setting ${JSON.stringify(unknownKey)}; expected ${SETTING_KEYS.join(', ')}.`,
    };
  }
  let next = current;
  const { problemEnvelope, acceptedIntentTypes, managedServices } = changes;
  if (problemEnvelope !== undefined) {
    if (!(PROBLEM_ENVELOPES as readonly unknown[]).includes(problemEnvelope)) {
      return { ok: false, message: `problemEnvelope must be one of ${PROBLEM_ENVELOPES.join(', ')}.` };
    }
    next = { ...next, problemEnvelope: problemEnvelope as ProblemEnvelope };
  }
  if (acceptedIntentTypes !== undefined) {
    const types = isStringList(acceptedIntentTypes) ? acceptedIntentTypes.map(intentTypeOf) : [undefined];
    if (types.some((type) => type === undefined)) {
      return { ok: false, message: `acceptedIntentTypes must be a list of: ${INTENT_TYPES.join(', ')}.` };
    }
    next = { ...next, acceptedIntentTypes: [...new Set(types as string[])] };
  }
  if (managedServices !== undefined) {
    if (!isStringList(managedServices) || !managedServices.every((service) => SERVICE_NAME.test(service))) {
      return { ok: false, message: 'managedServices must be a list of domain names.' };
    }
    next = { ...next, managedServices: [...new Set(managedServices)] };
  }
  return { ok: true, value: next };
}

/** {@link applySettings} for programmatic callers: throws on invalid settings. */
export function requireSettings(current: SimulatorSettings, changes: Partial<SimulatorSettings>): SimulatorSettings {
  const checked = applySettings(current, changes);
  if (!checked.ok) throw new Error(`invalid simulator settings: ${checked.message}`);
  return checked.value;
}

function isStringList(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string');
}
