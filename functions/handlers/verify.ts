/**
 * Lambda entry of the service API's verify routes (IAM-authorised): POST /verify (JSON), GET /verify and
 * /auth/{dialect} (forward-auth), and the identity operations (/bindings, /intrusions: identity-ops-app.ts). middy chain: logger context → metrics flush → secrets → error mapper (JSON; 503 for any
 * server error, since proxies take only 200/401/403/503) → the verify app.
 */
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { ENV } from '../config/names';
import { ConfigurationError } from '../domain/errors';
import { createVerifyHandler } from './verify-app';
import { createIdentityOpsHandler, isIdentityRoute } from './identity-ops-app';
import {
  type SecretContext,
  loadTruststore,
  perServices,
  requireStateKey,
  runtimeConfig,
  secretsMiddleware,
  services,
} from '../runtime/composition';
import { metricsMiddleware } from '../runtime/metrics';
import { decisionLog, errorMapper, logger } from '../runtime/observability';

const config = runtimeConfig();
const truststore = loadTruststore(config.truststoreFile, __dirname);
const edgeOrigin = config.publicOrigin;

const identityOpsApp = perServices(({ client, cache, ledgerMoves }) =>
  createIdentityOpsHandler({
    identityPlus: client,
    truststore,
    cache,
    ledger: ledgerMoves,
    billingAnchorDay: config.billingAnchorDay,
    service: config.identityPlusService,
    now: Date.now,
    log: decisionLog,
  }),
);

const verifyApp = perServices(({ intents, authenticator, stateKey }) => {
  if (!edgeOrigin)
    throw new ConfigurationError(`${ENV.PUBLIC_ORIGIN} is not set: /verify needs the edge origin for validation links`);
  return createVerifyHandler({
    authenticator,
    intents,
    stateKey: requireStateKey(stateKey),
    truststore,
    edgeOrigin,
    allowedReturnOrigins: config.allowedReturnOrigins,
    decisionCacheSeconds: config.decisionCacheSeconds,
    now: Date.now,
    log: decisionLog,
  });
});

export const handler = middy<APIGatewayProxyEvent, APIGatewayProxyResult, Error, Context & SecretContext>()
  .use(injectLambdaContext(logger))
  .use(metricsMiddleware())
  .use(secretsMiddleware(config, { stateKey: true }))
  .use(errorMapper({ json: true, serviceUnavailableOnly: true }))
  .handler(async (event, context) =>
    isIdentityRoute(event.resource) ? identityOpsApp(services(context))(event) : verifyApp(services(context))(event),
  );
