/**
 * Stage settings the REST APIs share: JSON access logs to a log group with retention, execution logs for
 * errors only (never request or response bodies: dataTrace would log them), metrics, and throttling; and the
 * gateway responses of the APIs forward-auth proxies call.
 */
import {
  AccessLogField,
  AccessLogFormat,
  LogGroupLogDestination,
  MethodLoggingLevel,
  ResponseType,
  type RestApi,
  type StageOptions,
} from 'aws-cdk-lib/aws-apigateway';
import type { LogGroup } from 'aws-cdk-lib/aws-logs';

/** The stage options: `prod`, JSON access logs to `accessLogs`, ERROR execution logs without bodies, `throttling`. */
export function stageOptions(
  accessLogs: LogGroup,
  throttling: { readonly rateLimit: number; readonly burstLimit: number },
): StageOptions {
  return {
    stageName: 'prod',
    accessLogDestination: new LogGroupLogDestination(accessLogs),
    accessLogFormat: accessLogFormat(),
    loggingLevel: MethodLoggingLevel.ERROR,
    dataTraceEnabled: false,
    metricsEnabled: true,
    throttlingRateLimit: throttling.rateLimit,
    throttlingBurstLimit: throttling.burstLimit,
  };
}

/** One JSON object per request . The query string is left out on purpose: it carries `state` and `return`. */
export function accessLogFormat(): AccessLogFormat {
  return AccessLogFormat.custom(
    JSON.stringify({
      requestId: AccessLogField.contextRequestId(),
      extendedRequestId: AccessLogField.contextExtendedRequestId(),
      requestTime: AccessLogField.contextRequestTime(),
      ip: AccessLogField.contextIdentitySourceIp(),
      // The IAM principal that called the service API (it answers names and emails); empty on the edge API.
      caller: AccessLogField.contextIdentityUserArn(),
      userAgent: AccessLogField.contextIdentityUserAgent(),
      domainName: AccessLogField.contextDomainName(),
      method: AccessLogField.contextHttpMethod(),
      resourcePath: AccessLogField.contextResourcePath(),
      protocol: AccessLogField.contextProtocol(),
      status: AccessLogField.contextStatus(),
      responseLength: AccessLogField.contextResponseLength(),
      responseLatency: AccessLogField.contextResponseLatency(),
      integrationStatus: AccessLogField.contextIntegrationStatus(),
      integrationLatency: AccessLogField.contextIntegrationLatency(),
      errorMessage: AccessLogField.contextErrorMessage(),
      errorType: AccessLogField.contextErrorResponseType(),
      clientCertSerial: AccessLogField.contextIdentityClientCertSerialNumber(),
      clientCertSubject: AccessLogField.contextIdentityClientCertSubjectDN(),
      clientCertIssuer: AccessLogField.contextIdentityClientCertIssunerDN(),
      clientCertNotAfter: AccessLogField.contextIdentityClientCertValidityNotAfter(),
    }),
  );
}

/**
 * Forward-auth proxies understand only 200/401/403/503 (nginx turns anything else into a 500): API Gateway's
 * own throttling (429) and integration failures (502/504) become 503 + `Retry-After: 5`, with the JSON body
 * plusgate's own 503s have.
 */
export function addUnavailableResponses(api: RestApi): void {
  for (const [id, type] of [
    ['Throttled', ResponseType.THROTTLED],
    ['Default5xx', ResponseType.DEFAULT_5XX],
  ] as const) {
    api.addGatewayResponse(id, {
      type,
      statusCode: '503',
      responseHeaders: { 'Retry-After': "'5'", 'X-Plusgate-Decision': "'error'" },
      templates: {
        'application/json':
          '{"decision":"error","reason":"unavailable","message":"plusgate is busy or unavailable: try again shortly"}',
      },
    });
  }
}
