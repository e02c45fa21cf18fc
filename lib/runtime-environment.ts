/**
 * The function settings derived from the deployment configuration, as environment variables named by
 * `ENV` (functions/config/names.ts) and read back by functions/handlers/runtime-config.ts. Plain values
 * only: resources (table, secrets) are added with their grants by `PlusgateFunction.bind*`.
 */
import { ENV } from '../functions/config/names';
import type { PlusgateConfig } from './config';

/** Settings every function that decides on a certificate needs. */
export function decisionEnvironment(config: PlusgateConfig): Record<string, string> {
  return {
    [ENV.IDENTITY_PLUS_API_URL]: config.identityPlusApiUrl,
    [ENV.IDENTITY_PLUS_SIGNON_URL]: config.identityPlusSignonUrl,
    [ENV.INTENT_TYPE]: config.intentType,
    [ENV.ALLOWED_ROLES]: JSON.stringify(config.allowedRoles),
    [ENV.ALLOWED_RETURN_ORIGINS]: JSON.stringify(config.allowedReturnOrigins),
    [ENV.BILLING_ANCHOR_DAY]: String(config.billingAnchorDay),
    [ENV.PRICE_PER_USER_YEAR]: String(config.pricePerUserYear),
    [ENV.DECISION_CACHE_SECONDS]: String(config.decisionCacheSeconds),
    [ENV.STALE_IF_ERROR_SECONDS]: String(config.staleIfErrorSeconds),
    [ENV.PUBLIC_ORIGIN]: `https://${config.domainName}`,
  };
}

/** Settings of the functions that read the ledger for reports (GET /report, period close). */
export function reportEnvironment(config: PlusgateConfig): Record<string, string> {
  return {
    [ENV.BILLING_ANCHOR_DAY]: String(config.billingAnchorDay),
    [ENV.PRICE_PER_USER_YEAR]: String(config.pricePerUserYear),
  };
}
