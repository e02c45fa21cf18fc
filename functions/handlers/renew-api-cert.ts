/**
 * Lambda entry of the daily API certificate renewal (an EventBridge schedule). Emits the days left of the
 * certificate in use every day, renews once `apiCertRenewAtFraction` of its lifetime has passed, and counts
 * renewals and failures. Invoke it by hand with `{"force": true}` to renew now.
 *
 * A failed renewal is logged, counted and rethrown (the function's Errors metric and one async retry see it);
 * nothing was stored, so the functions keep using the current certificate.
 */
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { SecretsManagerApiCertSecret } from '../adapters/api-cert-secret-store';
import { SelfAuthorityClient } from '../adapters/self-authority-client';
import { METRIC } from '../config/metrics';
import type { RenewalOutcome } from '../domain/api-cert-renewal';
import { emitMetric, metricsMiddleware } from '../runtime/metrics';
import { logger } from '../runtime/observability';
import { readRenewalConfig } from '../runtime/runtime-config';
import { renewApiCertificate } from './renew-api-cert-app';

/** The scheduled event, or `{ "force": true }` from a manual invocation. */
export interface RenewApiCertEvent {
  readonly force?: unknown;
}

export const handler = middy<RenewApiCertEvent, RenewalOutcome>()
  .use(injectLambdaContext(logger))
  .use(metricsMiddleware())
  .handler(async (event) => {
    const config = readRenewalConfig();
    const outcome = await renewApiCertificate(
      {
        secret: new SecretsManagerApiCertSecret({
          client: new SecretsManagerClient({}),
          secretId: config.apiCertSecret,
        }),
        renew: (credentials, args) =>
          new SelfAuthorityClient({
            baseUrl: config.identityPlusSelfAuthorityUrl,
            credentials,
            extraCa: config.identityPlusExtraCa,
          }).renewCertificate(args),
        renewAtFraction: config.apiCertRenewAtFraction,
        now: () => new Date(),
        onDaysLeft: (days) => emitMetric(METRIC.API_CERT_DAYS_LEFT, days),
        onRenewed: (renewed) => {
          emitMetric(METRIC.API_CERT_RENEWALS, 1);
          logger.info('API certificate renewed', { ...renewed });
        },
        onFailure: (error) => {
          emitMetric(METRIC.API_CERT_RENEWAL_FAILURES, 1);
          logger.error('API certificate renewal failed; the current certificate stays in use', {
            kind: error.kind,
            reason: error.message,
          });
        },
      },
      { force: event?.force === true },
    );
    if (!outcome.renewed) logger.info('API certificate renewal not due', { ...outcome });
    return outcome;
  });
