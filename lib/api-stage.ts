/**
 * Stage settings both REST APIs share: JSON access logs to a log group with retention, execution logs for
 * errors only (never request or response bodies: dataTrace would log them), metrics, and throttling.
 */
import {
  AccessLogField,
  AccessLogFormat,
  LogGroupLogDestination,
  MethodLoggingLevel,
  type StageOptions,
} from 'aws-cdk-lib/aws-apigateway';
import type { LogGroup } from 'aws-cdk-lib/aws-logs';

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
