/**
 * The plusgate stack: composes the constructs and emits what an operator needs after `cdk deploy`.
 * Resource details live in the construct that owns them.
 */
import * as path from 'node:path';
import { Annotations, AssetStaging, CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import { Certificate } from 'aws-cdk-lib/aws-certificatemanager';
import { HostedZone } from 'aws-cdk-lib/aws-route53';
import { Topic } from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import { EDGE_ROUTES, ENV, SERVICE_ROUTES } from '../functions/config/names';
import { type PlusgateConfig, zoneHolds } from './config';
import { checkTruststoreFile, writeTruststoreFile } from './truststore-pem';
import { EdgeApi } from './edge-api';
import { addCloudFrontEdgeOutputs, CloudFrontEdge } from './cloudfront-edge';
import { ApiGatewayAccount } from './api-gateway-account';
import { EdgeWaf } from './edge-waf';
import { ForwardAuthApi } from './forward-auth-api';
import { PlusgateFunction } from './plusgate-function';
import { PlusgateSecrets } from './plusgate-secrets';
import { LedgerTable } from './ledger-table';
import { ServiceApi } from './service-api';

import { decisionEnvironment, edgeEnvironment, reportEnvironment } from './runtime-environment';
import { PeriodClose } from './period-close';
import { ApiCertRenewal } from './api-cert-renewal';
import { BillableUsersGauge } from './billable-users-gauge';
import { Monitoring, type WatchedFunction } from './monitoring';
import { PlusgateDashboard } from './dashboard';

/** Name of the truststore file inside the verify and authorizer bundles. */
const BUNDLED_TRUSTSTORE = 'truststore.pem';

/** Props of {@link PlusgateStack}. */
export interface PlusgateStackProps extends StackProps {
  /** The validated configuration (see `loadConfig`). */
  readonly config: PlusgateConfig;
}

/**
 * The edge (the mutual-TLS API Gateway edge API, or with `edge: "cloudfront"` a CloudFront distribution with
 * optional viewer mutual TLS in front of the function's URL) and its function, the IAM service API (verify, report), optionally the mutual-TLS
 * door for proxies (forward-auth with the proxy's own certificate), the authorizer function,
 * the records table, period close, the secrets, and day-2 operations: the daily API certificate renewal, the
 * hourly billable-users gauge, the alarms with their topic, and the dashboard.
 */
export class PlusgateStack extends Stack {
  public readonly records: LedgerTable;
  public readonly secrets: PlusgateSecrets;
  public readonly edgeFunction: PlusgateFunction;
  /** The API Gateway edge (`edge: "api-gateway"`, the default). */
  public readonly edge?: EdgeApi;
  /** The CloudFront edge (`edge: "cloudfront"`). */
  public readonly cloudFrontEdge?: CloudFrontEdge;
  /** The edge API's rate-limiting web ACL, when `wafRateLimitPer5Min` is set. */
  public readonly edgeWaf?: EdgeWaf;
  public readonly verifyFunction: PlusgateFunction;
  public readonly authorizerFunction: PlusgateFunction;
  public readonly reportFunction: PlusgateFunction;
  public readonly periodClose: PeriodClose;
  public readonly service: ServiceApi;
  /** The mutual-TLS door for proxies, when `forwardAuthDomainName` and its keys are set. */
  public readonly forwardAuth?: ForwardAuthApi;
  public readonly apiCertRenewal: ApiCertRenewal;
  public readonly billableUsers: BillableUsersGauge;
  public readonly monitoring: Monitoring;
  public readonly dashboard: PlusgateDashboard;

  constructor(scope: Construct, id: string, props: PlusgateStackProps) {
    super(scope, id, props);
    const { config } = props;
    for (const warning of config.truststoreWarnings) Annotations.of(this).addWarningV2('plusgate:truststore', warning);
    for (const warning of config.edgeWarnings) Annotations.of(this).addWarningV2('plusgate:edge', warning);
    // Identity Plus issues API certificates for about a year: renewal must be due well before the expiry alarm.
    const daysLeftAtRenewal = Math.floor((1 - config.apiCertRenewAtFraction) * 365);
    if (daysLeftAtRenewal <= config.apiCertExpiryAlarmDays) {
      Annotations.of(this).addWarningV2(
        'plusgate:renewal',
        `apiCertRenewAtFraction ${config.apiCertRenewAtFraction} leaves about ${daysLeftAtRenewal} days of a one-year API certificate when renewal is due, not more than apiCertExpiryAlarmDays ${config.apiCertExpiryAlarmDays}: the expiry alarm would page before the first renewal try. Lower the fraction or the alarm days.`,
      );
    }

    this.records = new LedgerTable(this, 'Records');
    this.secrets = new PlusgateSecrets(this, 'Secrets', { apiCertSecretName: config.apiCertSecretName });

    this.edgeFunction = new PlusgateFunction(this, 'EdgeFunction', {
      handler: 'edge',
      description: `plusgate edge: GET /signin, /return, /whoami behind ${config.edge === 'cloudfront' ? 'CloudFront viewer ' : ''}mutual TLS`,
      environment: edgeEnvironment(config),
    });
    // The edge function records sign-ins and reads both secrets: nothing else.
    this.edgeFunction.bindTable(this.records.table, 'dynamodb:UpdateItem');
    this.edgeFunction.bindSecret(ENV.API_CERT_SECRET, this.secrets.apiCertificate);
    this.edgeFunction.bindSecret(ENV.STATE_KEY_SECRET, this.secrets.stateKey);

    const zone = () =>
      config.hostedZone &&
      HostedZone.fromHostedZoneAttributes(this, 'Zone', {
        hostedZoneId: config.hostedZone.id,
        zoneName: config.hostedZone.name,
      });
    if (config.edge === 'cloudfront') {
      // Instead of the edge API: CloudFront (optional viewer mTLS) → the function URL (OAC), lib/cloudfront-edge.ts.
      this.cloudFrontEdge = new CloudFrontEdge(this, 'CloudFrontEdge', {
        handler: this.edgeFunction.lambda,
        domainName: config.domainName,
        certificate: Certificate.fromCertificateArn(this, 'CloudFrontCertificate', config.cloudFrontCertificateArn),
        truststore: config.truststore,
        hostedZone: zone(),
      });
    } else {
      this.edge = new EdgeApi(this, 'Edge', {
        handler: this.edgeFunction.lambda,
        domainName: config.domainName,
        certificate: Certificate.fromCertificateArn(this, 'Certificate', config.certificateArn),
        truststore: config.truststore,
        hostedZone: zone(),
        ownershipVerificationCertificate:
          config.ownershipVerificationCertificateArn === undefined
            ? undefined
            : Certificate.fromCertificateArn(this, 'OwnershipCertificate', config.ownershipVerificationCertificateArn),
      });
      if (config.wafRateLimitPer5Min !== undefined) {
        this.edgeWaf = new EdgeWaf(this, 'EdgeWaf', {
          stage: this.edge.api.deploymentStage,
          rateLimitPer5Min: config.wafRateLimitPer5Min,
        });
      }
    }

    // The checked, normalised truststore (exactly what the edge domain trusts), for the functions that
    // check chains themselves: a private copy esbuild's hook copies into their bundles. Bundling runs while
    // each function is constructed, so the copy is deleted right after.
    const truststoreCopy = writeTruststoreFile(config.truststore);
    /** A function that decides on certificates submitted to it, checking their chains against the truststore. */
    const chainCheckingFunction = (id: string, handler: string, description: string) => {
      const fn = new PlusgateFunction(this, id, {
        handler,
        description,
        environment: { ...decisionEnvironment(config), [ENV.TRUSTSTORE_FILE]: BUNDLED_TRUSTSTORE },
        bundledFiles: { [BUNDLED_TRUSTSTORE]: truststoreCopy.file },
      });
      // After bundling, the bundle must hold exactly the checked truststore too.
      if (this.bundlingRequired) {
        const staged = fn.lambda.node.findAll().find((c): c is AssetStaging => c instanceof AssetStaging);
        if (!staged) throw new Error(`${id}: no bundled asset found to check its ${BUNDLED_TRUSTSTORE} against`);
        checkTruststoreFile(path.join(staged.absoluteStagedPath, BUNDLED_TRUSTSTORE), config.truststore);
      }
      fn.bindTable(this.records.table, 'dynamodb:UpdateItem');
      fn.bindSecret(ENV.API_CERT_SECRET, this.secrets.apiCertificate);
      return fn;
    };

    try {
      // POST/GET /verify: decides like the edge flow; checks submitted certificates against the same truststore.
      this.verifyFunction = chainCheckingFunction(
        'VerifyFunction',
        'verify',
        'plusgate service API: POST /verify (JSON) and GET /verify (forward-auth)',
      );
      // The REQUEST authorizer other mTLS APIs attach (lib/plusgate-authorizer.ts): records, never signs states.
      this.authorizerFunction = chainCheckingFunction(
        'AuthorizerFunction',
        'authorizer',
        'plusgate Lambda REQUEST authorizer for other mutual-TLS APIs',
      );
    } finally {
      truststoreCopy.remove();
    }
    // Verify signs validation states (the sign-in URL it answers); the authorizer never does.
    this.verifyFunction.bindSecret(ENV.STATE_KEY_SECRET, this.secrets.stateKey);

    // GET /report reads the ledger and nothing else: no secrets, Query only.
    this.reportFunction = new PlusgateFunction(this, 'ReportFunction', {
      handler: 'report',
      description: 'plusgate service API: GET /report (billing-period user report)',
      environment: reportEnvironment(config),
    });
    this.reportFunction.bindTable(this.records.table, 'dynamodb:Query');

    // When a period ends, its report (JSON + CSV) is written to a private, versioned bucket.
    this.periodClose = new PeriodClose(this, 'PeriodClose', {
      table: this.records.table,
      billingAnchorDay: config.billingAnchorDay,
      pricePerUserYear: config.pricePerUserYear,
    });

    this.service = new ServiceApi(this, 'Service', {
      verifyHandler: this.verifyFunction.lambda,
      reportHandler: this.reportFunction.lambda,
      serviceCallerArns: config.serviceCallerArns,
      reportReaderArns: config.reportReaderArns,
    });
    // The mutual-TLS door for proxies: the same verify function, only /auth/..., the proxy's own certificate.
    const door = config.forwardAuth;
    if (door) {
      this.forwardAuth = new ForwardAuthApi(this, 'ForwardAuth', {
        handler: this.verifyFunction.lambda,
        domainName: door.domainName,
        certificate: Certificate.fromCertificateArn(this, 'ForwardAuthCertificate', door.certificateArn),
        truststore: door.truststore,
        hostedZone:
          config.hostedZone && zoneHolds(config.hostedZone, door.domainName)
            ? HostedZone.fromHostedZoneAttributes(this, 'ForwardAuthZone', {
                hostedZoneId: config.hostedZone.id,
                zoneName: config.hostedZone.name,
              })
            : undefined,
      });
    }
    // Stage logging needs the account-level CloudWatch role the edge API sets up (without it, the stack's own).
    const account = this.edge
      ? this.edge.api.node.tryFindChild('Account')
      : new ApiGatewayAccount(this, 'ApiGatewayAccount').account;
    if (account) {
      this.service.api.deploymentStage.node.addDependency(account);
      this.forwardAuth?.api.deploymentStage.node.addDependency(account);
    }

    // Renews the API certificate before it expires (reads it, puts a new version; nothing else).
    this.apiCertRenewal = new ApiCertRenewal(this, 'ApiCertRenewal', {
      secret: this.secrets.apiCertificate,
      identityPlusSelfAuthorityUrl: config.identityPlusSelfAuthorityUrl,
      apiCertRenewAtFraction: config.apiCertRenewAtFraction,
    });
    // Counts this period's billable users every hour (Query only).
    this.billableUsers = new BillableUsersGauge(this, 'BillableUsers', {
      table: this.records.table,
      billingAnchorDay: config.billingAnchorDay,
    });

    const watched = (name: string, fn: PlusgateFunction): WatchedFunction => ({
      name,
      lambda: fn.lambda,
      logGroup: fn.logGroup,
    });
    const decidingFunctions = [
      watched('Edge', this.edgeFunction),
      watched('Verify', this.verifyFunction),
      watched('Authorizer', this.authorizerFunction),
    ];
    const renewalFunction = watched('ApiCertRenewal', this.apiCertRenewal.renewer);
    const otherFunctions = [
      watched('Report', this.reportFunction),
      // Period close has its own alarm on its errors: it is sent to the topic instead of a second one.
      { ...watched('PeriodClose', this.periodClose.exporter), errorsAlarm: this.periodClose.failures },
      watched('BillableUsers', this.billableUsers.counter),
    ];
    this.monitoring = new Monitoring(this, 'Monitoring', {
      decidingFunctions,
      renewalFunction,
      otherFunctions,
      apis: [
        ...(this.edge
          ? [{ name: 'Edge', stage: this.edge.api.deploymentStage, accessLogs: this.edge.accessLogs }]
          : []),
        { name: 'Service', stage: this.service.api.deploymentStage, accessLogs: this.service.accessLogs },
        ...(this.forwardAuth
          ? [
              {
                name: 'ForwardAuth',
                stage: this.forwardAuth.api.deploymentStage,
                accessLogs: this.forwardAuth.accessLogs,
              },
            ]
          : []),
      ],
      functionUrls: this.cloudFrontEdge ? [watched('Edge', this.edgeFunction)] : [],
      table: this.records.table,
      apiCertSecret: this.secrets.apiCertificate,
      apiCertExpiryAlarmDays: config.apiCertExpiryAlarmDays,
      billableUsersAlarmThreshold: config.billableUsersAlarmThreshold,
      alarmEmail: config.alarmEmail,
      alarmTopic:
        config.alarmTopicArn === undefined ? undefined : Topic.fromTopicArn(this, 'AlarmTopic', config.alarmTopicArn),
    });
    this.dashboard = new PlusgateDashboard(this, 'Dashboard', {
      functions: [...decidingFunctions, renewalFunction, ...otherFunctions],
      alarms: this.monitoring.alarms,
    });

    new CfnOutput(this, 'EdgeUrl', {
      description: 'Where browsers with an Identity Plus certificate sign in',
      value: `https://${config.domainName}${EDGE_ROUTES.SIGNIN}`,
    });
    if (this.edge) {
      new CfnOutput(this, 'RegionalDomainName', {
        description: config.hostedZone
          ? `Target of the A alias record created in ${config.hostedZone.name}`
          : `Point DNS for ${config.domainName} here (CNAME, or a Route 53 alias with RegionalHostedZoneId)`,
        value: this.edge.domain.domainNameAliasDomainName,
      });
      new CfnOutput(this, 'RegionalHostedZoneId', {
        description: 'Route 53 hosted zone ID of the regional domain name, for an alias record',
        value: this.edge.domain.domainNameAliasHostedZoneId,
      });
    } else if (this.cloudFrontEdge) {
      addCloudFrontEdgeOutputs(this, this.cloudFrontEdge, config.hostedZone?.name);
    }
    const truststore = (this.edge ?? this.cloudFrontEdge)?.truststore;
    if (truststore) {
      new CfnOutput(this, 'TruststoreUri', {
        description: `mTLS truststore: ${config.truststore.subjects.join(' | ')}`.slice(0, 1000),
        value: truststore.bucket.s3UrlForObject(truststore.key),
      });
    }
    new CfnOutput(this, 'RecordsTableName', { value: this.records.table.tableName });
    new CfnOutput(this, 'StateKeySecretArn', { value: this.secrets.stateKey.secretArn });
    new CfnOutput(this, 'ApiCertSecretName', {
      description: 'Put the Identity Plus API certificate here: npm run put-api-cert',
      value: config.apiCertSecretName,
    });
    new CfnOutput(this, 'EdgeFunctionName', { value: this.edgeFunction.lambda.functionName });
    if (this.edge) new CfnOutput(this, 'AccessLogGroupName', { value: this.edge.accessLogs.logGroupName });
    new CfnOutput(this, 'ReportsBucketName', {
      description: 'Closed billing periods: reports/<period>/report.json and users.csv',
      value: this.periodClose.bucket.bucketName,
    });
    new CfnOutput(this, 'ServiceApiUrl', {
      description: 'IAM (SigV4) API for services: POST/GET /verify, GET /report',
      value: this.service.api.url,
    });
    new CfnOutput(this, 'VerifyInvokeArn', {
      description: 'Resource for execute-api:Invoke in the IAM policy of a service that calls /verify (GET and POST)',
      value: this.service.api.arnForExecuteApi('*', SERVICE_ROUTES.VERIFY, this.service.api.deploymentStage.stageName),
    });
    new CfnOutput(this, 'ForwardAuthInvokeArn', {
      description:
        'Resource for execute-api:Invoke in the IAM policy of a proxy (its signing hop) that calls /auth/<dialect>',
      value: this.service.api.arnForExecuteApi('*', '/auth/*', this.service.api.deploymentStage.stageName),
    });
    if (door && this.forwardAuth) {
      new CfnOutput(this, 'ForwardAuthUrl', {
        description:
          'Forward-auth for proxies presenting a certificate of your proxy CA: /auth/<dialect> (nginx, traefik, caddy, envoy)',
        value: `https://${door.domainName}/auth/<dialect>`,
      });
      new CfnOutput(this, 'ForwardAuthRegionalDomainName', {
        description: this.forwardAuth.record
          ? `Target of the A alias record for ${door.domainName} created in ${config.hostedZone?.name}`
          : `Point DNS for ${door.domainName} here (CNAME, or a Route 53 alias with ForwardAuthRegionalHostedZoneId)`,
        value: this.forwardAuth.domain.domainNameAliasDomainName,
      });
      new CfnOutput(this, 'ForwardAuthRegionalHostedZoneId', {
        description: "Route 53 hosted zone ID of the door's regional domain name, for an alias record",
        value: this.forwardAuth.domain.domainNameAliasHostedZoneId,
      });
      new CfnOutput(this, 'ForwardAuthTruststoreUri', {
        description: `Proxy CA truststore: ${door.truststore.subjects.join(' | ')}`.slice(0, 1000),
        value: this.forwardAuth.truststore.bucket.s3UrlForObject(this.forwardAuth.truststore.key),
      });
    }
    new CfnOutput(this, 'BindingsInvokeArn', {
      description:
        'Resource for execute-api:Invoke in the IAM policy of a service that binds its user ids (PUT /bindings, DELETE /bindings/<id>)',
      value: this.service.api.arnForExecuteApi('*', '/bindings*', this.service.api.deploymentStage.stageName),
    });
    new CfnOutput(this, 'IntrusionsInvokeArn', {
      description:
        'Resource for execute-api:Invoke in the IAM policy of a service that reports intruders (POST /intrusions, DELETE /intrusions/<ref>)',
      value: this.service.api.arnForExecuteApi('*', '/intrusions*', this.service.api.deploymentStage.stageName),
    });
    new CfnOutput(this, 'ReportInvokeArn', {
      description: 'Resource for execute-api:Invoke in the IAM policy of an operator who reads /report',
      value: this.service.api.arnForExecuteApi(
        'GET',
        SERVICE_ROUTES.REPORT,
        this.service.api.deploymentStage.stageName,
      ),
    });
    new CfnOutput(this, 'PeriodCloseFunctionName', {
      description: 'Run by hand to export a closed period again: aws lambda invoke --payload \'{"period":"YYYY-MM"}\'',
      value: this.periodClose.exporter.lambda.functionName,
    });
    new CfnOutput(this, 'DashboardUrl', {
      description: 'The plusgate dashboard in the CloudWatch console (README: Operating plusgate)',
      value: this.dashboard.url,
    });
    new CfnOutput(this, 'AlarmTopicArn', {
      description: config.alarmEmail
        ? `Every alarm notifies this topic; ${config.alarmEmail} must confirm the subscription email`
        : 'Every alarm notifies this topic: subscribe the on-call people to it',
      value: this.monitoring.topic.topicArn,
    });
    new CfnOutput(this, 'ApiCertRenewalFunctionName', {
      description:
        'Renews the Identity Plus API certificate daily when due; aws lambda invoke --payload \'{"force":true}\' renews now',
      value: this.apiCertRenewal.renewer.lambda.functionName,
    });
    new CfnOutput(this, 'AuthorizerFunctionArn', {
      description: 'Attach to other mTLS REST APIs with PlusgateAuthorizer (README: Guard another API)',
      value: this.authorizerFunction.lambda.functionArn,
    });
  }
}
