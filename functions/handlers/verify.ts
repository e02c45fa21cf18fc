/**
 * Lambda entry of the service API's verify routes (IAM-authorised): POST /verify (JSON) and GET /verify
 * (forward-auth). middy chain: logger context → secrets → error mapper (JSON; 503 for any server error,
 * since proxies take only 200/401/403/503) → the verify app.
 */
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { ENV } from '../config/names';
import { Truststore } from '../domain/certificate-chain';
import { ConfigurationError } from '../domain/errors';
import { createVerifyHandler } from './verify-app';
import { SecretContext, requireStateKey, runtimeConfig, secretsMiddleware, services } from './composition';
import { decisionLog, errorMapper, logger } from './observability';

const config = runtimeConfig();
const truststore = loadTruststore(config.truststoreFile);
const edgeOrigin = config.publicOrigin;

export const handler = middy<APIGatewayProxyEvent, APIGatewayProxyResult, Error, Context & SecretContext>()
  .use(injectLambdaContext(logger))
  .use(secretsMiddleware(config, { stateKey: true }))
  .use(errorMapper({ json: true, serviceUnavailableOnly: true }))
  .handler(async (event, context) => {
    const { client, authenticator, stateKey } = services(context);
    if (!edgeOrigin) throw new ConfigurationError(`${ENV.PUBLIC_ORIGIN} is not set: /verify needs the edge origin for validation links`);
    return createVerifyHandler({
      authenticator,
      intents: client,
      stateKey: requireStateKey(stateKey),
      truststore,
      edgeOrigin,
      now: Date.now,
      log: decisionLog,
    })(event);
  });

/** The truststore a submitted certificate must chain to; read once per container. */
function loadTruststore(file: string | undefined): Truststore {
  if (!file) throw new ConfigurationError(`plusgate configuration: ${ENV.TRUSTSTORE_FILE} is not set`);
  const resolved = path.isAbsolute(file) ? file : path.join(__dirname, file);
  try {
    return Truststore.fromPem(readFileSync(resolved, 'utf8'));
  } catch (cause) {
    throw new ConfigurationError(`plusgate configuration: truststore ${resolved} could not be loaded (${(cause as Error).message})`, { cause });
  }
}
