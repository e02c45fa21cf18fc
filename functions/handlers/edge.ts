/**
 * Lambda entry of the edge (mutual TLS) API: GET /signin, /return, /whoami.
 * middy chain: logger context → metrics flush → secrets (API certificate, state key) → error mapper → the edge app.
 */
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { createEdgeHandler } from './edge-app';
import {
  type SecretContext,
  perServices,
  requireStateKey,
  runtimeConfig,
  secretsMiddleware,
  services,
} from '../runtime/composition';
import { metricsMiddleware } from '../runtime/metrics';
import { decisionLog, errorMapper, logger } from '../runtime/observability';

const config = runtimeConfig();

const edgeApp = perServices(({ intents, authenticator, usedStates, stateKey }) =>
  createEdgeHandler({
    authenticator,
    intents,
    usedStates,
    stateKey: requireStateKey(stateKey),
    allowedReturnOrigins: config.allowedReturnOrigins,
    publicOrigin: config.publicOrigin,
    now: Date.now,
    log: decisionLog,
  }),
);

export const handler = middy<APIGatewayProxyEvent, APIGatewayProxyResult, Error, Context & SecretContext>()
  .use(injectLambdaContext(logger))
  .use(metricsMiddleware())
  .use(secretsMiddleware(config, { stateKey: true }))
  .use(errorMapper())
  .handler(async (event, context) => edgeApp(services(context))(event));
