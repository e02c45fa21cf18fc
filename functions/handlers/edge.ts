/**
 * Lambda entry of the edge: GET /signin, /return, /whoami, behind API Gateway's mutual TLS (REST proxy
 * events) or, with `edge: "cloudfront"`, behind CloudFront's viewer mutual TLS through a function URL
 * (payload 2.0 events, read by functions/adapters/function-url-request.ts). The `edge` setting alone chooses
 * the adapter; an event of the other shape is a misconfiguration and is answered 500 without running the app.
 * middy chain: logger context → metrics flush → event shape check (and, for CloudFront, the result shape of
 * every answer, errors included) → secrets (API certificate, state key) → error mapper → the edge app.
 */
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context, LambdaFunctionURLEvent } from 'aws-lambda';
import { createEdgeHandler } from './edge-app';
import {
  type FunctionUrlResult,
  functionUrlResultOf,
  isFunctionUrlEvent,
  proxyEventOfFunctionUrl,
} from '../adapters/function-url-request';
import type { EdgeKind } from '../config/settings';
import { jsonResponse } from '../http/http-responses';
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

/** The events the edge function is invoked with: API Gateway's REST proxy events or function-URL events. */
export type EdgeEvent = APIGatewayProxyEvent | LambdaFunctionURLEvent;
/** What it answers: a REST proxy result, or a function-URL result under `edge: "cloudfront"`. */
export type EdgeResult = APIGatewayProxyResult | FunctionUrlResult;

const edgeApp = perServices(({ intents, authenticator, usedStates, stateKey }) =>
  createEdgeHandler({
    authenticator,
    intents,
    usedStates,
    stateKey: requireStateKey(stateKey),
    allowedReturnOrigins: config.allowedReturnOrigins,
    publicOrigin: config.publicOrigin,
    noCertificateHelpUrl: config.noCertificateHelpUrl,
    noCertificateHelpText: config.noCertificateHelpText,
    now: Date.now,
    log: decisionLog,
  }),
);

/** The message of the 500 a wrongly shaped event gets (no detail for the caller; the log has it). */
export const MISCONFIGURED_MESSAGE = 'plusgate is not configured correctly';

/**
 * Refuses an event whose shape does not match the `edge` setting before anything else runs (logged once per
 * container), and, under CloudFront, turns every answer into a function-URL result (the error mapper's too).
 */
export function edgeShape(edge: EdgeKind): middy.MiddlewareObj<EdgeEvent, EdgeResult> {
  let logged = false;
  return {
    before: (request) => {
      const functionUrl = isFunctionUrlEvent(request.event);
      if (functionUrl === (edge === 'cloudfront')) return undefined;
      if (!logged) {
        logged = true;
        logger.error(
          'event shape does not match the edge setting; check PLUSGATE_EDGE and what invokes this function',
          {
            edge,
            event: functionUrl ? 'function URL (payload 2.0)' : 'not a function URL event (API Gateway REST?)',
          },
        );
      }
      // Both API Gateway and function URLs read this shape (no multiValueHeaders).
      return jsonResponse(500, { message: MISCONFIGURED_MESSAGE });
    },
    onError: (request) => {
      // Runs after the error mapper (onError runs in reverse order), which answers in the REST shape.
      if (edge === 'cloudfront' && request.response)
        request.response = functionUrlResultOf(request.response as APIGatewayProxyResult);
    },
  };
}

export const handler = middy<EdgeEvent, EdgeResult, Error, Context & SecretContext>()
  .use(injectLambdaContext(logger))
  .use(metricsMiddleware())
  .use(edgeShape(config.edge))
  .use(secretsMiddleware(config, { stateKey: true }))
  .use(errorMapper() as middy.MiddlewareObj<EdgeEvent, EdgeResult>)
  .handler(async (event, context) => {
    const app = edgeApp(services(context));
    if (config.edge === 'cloudfront')
      return functionUrlResultOf(await app(proxyEventOfFunctionUrl(event as LambdaFunctionURLEvent)));
    return app(event as APIGatewayProxyEvent);
  });
