/**
 * Logging and the last-line error mapper, shared by every Lambda entry. Deliberately light: no Identity
 * Plus client here (undici is ~530 KB of bundle), so the report and period-close functions can use it too.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import type middy from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { wantsJson } from '../adapters/api-gateway-request';
import type { DecisionLog } from '../http/decision-log';
import { RETRY_AFTER_SECONDS, errorResponse } from '../http/http-responses';

/** Structured JSON logs (Powertools). Never given certificates, keys or secret values. */
export const logger = new Logger({ serviceName: 'plusgate' });

/** Decisions and failures as structured log lines. */
export const decisionLog: DecisionLog = {
  decision: (fields) => logger.info('decision', { ...fields }),
  failure: (message, err) => logger.error(message, { error: safeError(err) }),
};

/**
 * Last line of defence: anything that escaped (e.g. a secret that could not be read) becomes a clean
 * answer. `json` forces JSON (service API); `serviceUnavailableOnly` turns every 5xx into 503, for
 * forward-auth callers that treat anything but 200/401/403/503 as their own failure.
 */
export function errorMapper(
  options: { json?: boolean; serviceUnavailableOnly?: boolean } = {},
): middy.MiddlewareObj<APIGatewayProxyEvent, APIGatewayProxyResult> {
  return {
    onError: async (request) => {
      const json = options.json ?? (request.event ? wantsJson(request.event) : false);
      let response = errorResponse(request.error, json);
      if (options.serviceUnavailableOnly && response.statusCode >= 500 && response.statusCode !== 503) {
        response = {
          ...response,
          statusCode: 503,
          headers: { ...response.headers, 'Retry-After': String(RETRY_AFTER_SECONDS) },
        };
      }
      if (response.statusCode >= 500) logger.error('request failed', { error: safeError(request.error) });
      request.response = response;
    },
  };
}

/** An error as it may be logged: name, message, code — never the objects it drags along. */
export function safeError(err: unknown): Record<string, unknown> {
  if (!(err instanceof Error)) return { message: String(err) };
  const code = (err as { code?: unknown }).code;
  const cause = err.cause instanceof Error ? { name: err.cause.name, message: err.cause.message } : undefined;
  return { name: err.name, message: err.message, ...(code !== undefined ? { code } : {}), ...(cause ? { cause } : {}) };
}
