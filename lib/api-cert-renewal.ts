/**
 * API certificate renewal: every day an EventBridge schedule runs a function that reads the Identity Plus API
 * certificate secret, and once `apiCertRenewAtFraction` of the certificate's lifetime has passed renews it at
 * Identity Plus and stores the result as a new version of the same secret; it also emits the days left
 * (functions/handlers/renew-api-cert.ts). The function may read that one secret and put a new value into it:
 * no UpdateSecret (which could change its key or description), no delete, no rotation.
 */
import { Duration, Stack } from 'aws-cdk-lib';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { ViaServicePrincipal } from 'aws-cdk-lib/aws-kms';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { ENV } from '../functions/config/names';
import { readSettings, type SettingName } from '../functions/config/settings';
import { PlusgateFunction } from './plusgate-function';
import { renewalEnvironment, settingsReadBy } from './runtime-environment';

/** Props of {@link ApiCertRenewal}. */
export interface ApiCertRenewalProps {
  /** The Identity Plus API certificate secret: read, and given new versions. */
  readonly secret: ISecret;
  /** Base URL of the Identity Plus self-authority API. @default - the setting's default (functions/config/settings.ts) */
  readonly identityPlusSelfAuthorityUrl?: string;
  /** Share of the certificate's lifetime after which it is renewed (0–1, exclusive). @default 0.75 */
  readonly apiCertRenewAtFraction?: number;
  /** When the daily run starts. @default Schedule.cron({ minute: '0', hour: '4' }) (04:00 UTC) */
  readonly schedule?: Schedule;
  /** Time for one run: a secret read, one call to Identity Plus, a secret write. @default Duration.seconds(60) */
  readonly timeout?: Duration;
}

/** The renewal function and its daily schedule. */
export class ApiCertRenewal extends Construct {
  /** The renewal function (`functions/handlers/renew-api-cert.ts`). */
  public readonly renewer: PlusgateFunction;
  /** Runs it once a day. */
  public readonly schedule: Rule;

  constructor(scope: Construct, id: string, props: ApiCertRenewalProps) {
    super(scope, id);
    // Checked with the parsers of the settings table (as loadConfig does at synth); unset means the default.
    const problems: string[] = [];
    const given: Partial<Record<SettingName, unknown>> = {
      identityPlusSelfAuthorityUrl: props.identityPlusSelfAuthorityUrl,
      apiCertRenewAtFraction: props.apiCertRenewAtFraction,
    };
    const settings = readSettings(
      settingsReadBy('renewal'),
      { read: (name) => given[name], label: (name) => name, strict: true },
      problems,
    );
    if (problems.length > 0) throw new Error(`ApiCertRenewal: ${problems.join('; ')}`);

    this.renewer = new PlusgateFunction(this, 'Function', {
      handler: 'renew-api-cert',
      description: 'plusgate: renews the Identity Plus API certificate once it is due, and reports its days left',
      timeout: props.timeout ?? Duration.seconds(60),
      environment: renewalEnvironment(settings),
    });
    this.renewer.bindSecret(ENV.API_CERT_SECRET, props.secret);
    // A new version of the same secret, and nothing else: PutSecretValue moves AWSCURRENT to the new value and
    // keeps the old one as AWSPREVIOUS. The resource is the one grantRead names.
    this.renewer.role.addToPolicy(
      new PolicyStatement({
        actions: ['secretsmanager:PutSecretValue'],
        resources: [props.secret.secretFullArn ?? `${props.secret.secretArn}-??????`],
      }),
    );
    // A secret under a customer managed key also needs that key to encrypt, through Secrets Manager only.
    props.secret.encryptionKey?.grantEncrypt(
      new ViaServicePrincipal(`secretsmanager.${Stack.of(this).region}.amazonaws.com`, this.renewer.role),
    );
    // Each run that renews gets a new certificate issued: one retry after a failed run is enough, the next
    // day's run tries again, and a failure is counted (ApiCertRenewalFailures) for the alarm.
    this.renewer.lambda.configureAsyncInvoke({ retryAttempts: 1, maxEventAge: Duration.hours(6) });

    // 04:00 UTC: before the European working day, so a failed run is seen the same day. Renewal starts weeks
    // before the expiry, so the hour is not critical.
    this.schedule = new Rule(this, 'Schedule', {
      description: 'plusgate: renew the Identity Plus API certificate when due, and report its days left (daily)',
      schedule: props.schedule ?? Schedule.cron({ minute: '0', hour: '4' }),
    });
    this.schedule.addTarget(
      new LambdaFunction(this.renewer.lambda, { retryAttempts: 2, maxEventAge: Duration.hours(6) }),
    );
  }
}
