/**
 * The function settings derived from the deployment configuration, as the environment variables of their
 * table (functions/config/settings.ts), read back by functions/runtime/runtime-config.ts. Plain values
 * only: resources (table, secrets) are added with their grants by `PlusgateFunction.bind*`.
 */
import { ENV } from '../functions/config/names';
import { CONTEXT_SETTING_NAMES, settingsEnvironment } from '../functions/config/settings';
import type { PlusgateConfig } from './config';

/** Settings every function that decides on a certificate needs: every context setting, and the public origin. */
export function decisionEnvironment(config: PlusgateConfig): Record<string, string> {
  return {
    ...settingsEnvironment(config, CONTEXT_SETTING_NAMES),
    [ENV.PUBLIC_ORIGIN]: `https://${config.domainName}`,
  };
}

/** Settings of the functions that read the ledger for reports (GET /report, period close). */
export function reportEnvironment(config: PlusgateConfig): Record<string, string> {
  return settingsEnvironment(config, ['billingAnchorDay', 'pricePerUserYear']);
}
