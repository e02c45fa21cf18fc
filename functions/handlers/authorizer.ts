/**
 * Lambda entry of the REQUEST authorizer other mutual-TLS APIs attach (see lib/plusgate-authorizer.ts).
 * Reads only the API certificate secret: it never signs validation states.
 */
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { APIGatewayAuthorizerResult, APIGatewayRequestAuthorizerEvent, Context } from 'aws-lambda';
import { createAuthorizer, denyAll } from './authorizer-app';
import {
  type SecretContext,
  loadTruststore,
  perServices,
  runtimeConfig,
  secretsMiddleware,
  services,
} from '../runtime/composition';
import { metricsMiddleware } from '../runtime/metrics';
import { decisionLog, logger } from '../runtime/observability';

const config = runtimeConfig();
const truststore = loadTruststore(config.truststoreFile, __dirname);

const authorizerApp = perServices(({ authenticator }) =>
  createAuthorizer({ authenticator, truststore, now: Date.now, log: decisionLog }),
);

export const handler = middy<
  APIGatewayRequestAuthorizerEvent,
  APIGatewayAuthorizerResult,
  Error,
  Context & SecretContext
>()
  .use(injectLambdaContext(logger))
  .use(metricsMiddleware())
  .use(secretsMiddleware(config, { stateKey: false }))
  .use({
    // Fail closed with a Deny (403) rather than an authorizer error (500) when e.g. the secret is unreadable.
    onError: async (request) => {
      decisionLog.failure('authorizer failed closed', request.error);
      request.response = denyAll(request.event.methodArn);
    },
  })
  .handler(async (event, context) => authorizerApp(services(context))(event));
