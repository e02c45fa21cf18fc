/**
 * The function settings derived from the deployment configuration, as the environment variables of their
 * table (functions/config/settings.ts), read back by functions/runtime/runtime-config.ts. Plain values
 * only: resources (table, secrets) are added with their grants by `PlusgateFunction.bind*`.
 *
 * Each function gets only the settings it reads. {@link READ_BY} says which those are, for every context
 * setting: a new context setting in settings.ts does not compile until it names its readers here, so adding
 * a setting stays "its entry in the table plus its use".
 */
import { ENV } from '../functions/config/names';
import {
  type ContextSettingName,
  SETTINGS,
  type SettingValues,
  settingsEnvironment,
} from '../functions/config/settings';
import type { PlusgateConfig } from './config';

/**
 * The groups of functions that read settings: `decision` (edge, verify, authorizer: they ask Identity Plus
 * and record allows), `edge` (the edge function alone: what fronts it, its page for visitors without a certificate), `report` (GET /report, period close), `renewal` (the daily API certificate renewal),
 * `billableUsers` (the hourly billable-users gauge).
 */
export type SettingsReader = 'decision' | 'edge' | 'report' | 'renewal' | 'billableUsers';

/** Which functions read each context setting (every context setting reaches at least one). */
export const READ_BY = {
  allowedRoles: ['decision'],
  allowedReturnOrigins: ['decision'],
  // The ledger write and every reader compute billing periods from it.
  billingAnchorDay: ['decision', 'report', 'billableUsers'],
  pricePerUserYear: ['report'],
  decisionCacheSeconds: ['decision'],
  staleIfErrorSeconds: ['decision'],
  negativeCacheSeconds: ['decision'],
  intentIntervalSeconds: ['decision'],
  edge: ['edge'],
  noCertificateHelpUrl: ['edge'],
  noCertificateHelpText: ['edge'],
  identityPlusApiUrl: ['decision'],
  identityPlusSignonUrl: ['decision'],
  // Every inquiry asks on behalf of it, and the ledger write records it.
  identityPlusService: ['decision'],
  intentType: ['decision'],
  identityPlusSelfAuthorityUrl: ['renewal'],
  apiCertRenewAtFraction: ['renewal'],
} as const satisfies { readonly [K in ContextSettingName]: readonly [SettingsReader, ...SettingsReader[]] };

/** The context settings `R` reads. */
export type SettingsReadBy<R extends SettingsReader> = {
  [K in ContextSettingName]: R extends (typeof READ_BY)[K][number] ? K : never;
}[ContextSettingName];

/** The names of the context settings `reader` reads, in table order. */
export function settingsReadBy<R extends SettingsReader>(reader: R): SettingsReadBy<R>[] {
  return (Object.keys(READ_BY) as ContextSettingName[]).filter((name): name is SettingsReadBy<R> =>
    (READ_BY[name] as readonly SettingsReader[]).includes(reader),
  );
}

/** The settings `reader` reads, as environment variables. */
function environmentOf<R extends SettingsReader>(
  reader: R,
  values: Pick<SettingValues, SettingsReadBy<R>>,
): Record<string, string> {
  return settingsEnvironment(values, settingsReadBy(reader));
}

/** Settings of the functions that decide on a certificate (edge, verify, authorizer), and the public origin. */
export function decisionEnvironment(config: PlusgateConfig): Record<string, string> {
  return {
    ...environmentOf('decision', config),
    [ENV.PUBLIC_ORIGIN]: `https://${config.domainName}`,
  };
}

/**
 * Settings of the edge function: those of every deciding function, and its own (what fronts it, its landing
 * page). Its own are written only when they differ from their defaults (which the function applies to a
 * missing variable), so a deployment that does not use them synthesises exactly as before they existed.
 */
export function edgeEnvironment(config: PlusgateConfig): Record<string, string> {
  const own = environmentOf('edge', config);
  const defaults = settingsEnvironment(
    Object.fromEntries(settingsReadBy('edge').map((name) => [name, SETTINGS[name].default])) as Pick<
      SettingValues,
      SettingsReadBy<'edge'>
    >,
    settingsReadBy('edge'),
  );
  const changed = Object.entries(own).filter(([variable, value]) => defaults[variable] !== value);
  return { ...decisionEnvironment(config), ...Object.fromEntries(changed) };
}

/** Settings of the functions that read the ledger for reports (GET /report, period close). */
export function reportEnvironment(values: Pick<SettingValues, SettingsReadBy<'report'>>): Record<string, string> {
  return environmentOf('report', values);
}

/** Settings of the daily API certificate renewal (the secret itself comes with `bindSecret`). */
export function renewalEnvironment(values: Pick<SettingValues, SettingsReadBy<'renewal'>>): Record<string, string> {
  return environmentOf('renewal', values);
}

/** Settings of the hourly billable-users gauge (the table comes with `bindTable`). */
export function billableUsersEnvironment(
  values: Pick<SettingValues, SettingsReadBy<'billableUsers'>>,
): Record<string, string> {
  return environmentOf('billableUsers', values);
}
