/**
 * The house Lambda function: every plusgate function (edge, verify, report, authorizer, period close) is
 * one line, `new PlusgateFunction(this, 'VerifyFunction', { handler: 'verify' })`, and gets the same
 * documented defaults. Grants travel with the env var that names the resource (`bindTable`,
 * `bindSecret`), so a function can only reach what it was told about.
 */
import * as path from 'node:path';
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import type { ITableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, Runtime } from 'aws-cdk-lib/aws-lambda';
import { type ICommandHooks, NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { ENV } from '../functions/config/names';
import { FUNCTION_BUNDLING } from './function-bundling';

/** Repository root: handlers live in functions/handlers/, the lock file pins what esbuild bundles. */
const PROJECT_ROOT = path.resolve(__dirname, '..');

/** The Lambda runtime of every plusgate function (tests assert it). */
export const PLUSGATE_RUNTIME = Runtime.NODEJS_22_X;

/** DynamoDB actions a function may be granted on the records table; each function names exactly its own. */
export type RecordsTableAction = 'dynamodb:UpdateItem' | 'dynamodb:Query';

/** Props of {@link PlusgateFunction}. */
export interface PlusgateFunctionProps {
  /** Handler file under `functions/handlers/`, without `.ts` (e.g. `edge`); it must export `handler`. */
  readonly handler: string;
  /** Shown in the Lambda console. @default - no description */
  readonly description?: string;
  /** Plain settings (names from `ENV`). Never secret values: use `bindSecret`. @default - none */
  readonly environment?: Readonly<Record<string, string>>;
  /** @default Duration.seconds(25) */
  readonly timeout?: Duration;
  /** @default 512 */
  readonly memorySize?: number;
  /** @default RetentionDays.ONE_MONTH */
  readonly logRetention?: RetentionDays;
  /**
   * Files copied into the bundle next to the handler: name in the bundle → absolute source path. For data
   * too large for Lambda's 4 KB environment (e.g. the truststore /verify checks chains against).
   * @default - none
   */
  readonly bundledFiles?: Readonly<Record<string, string>>;
}

/** esbuild hooks that copy `files` (bundle name → source path) into the output folder. */
function bundledFilesHooks(files: Readonly<Record<string, string>>): ICommandHooks | undefined {
  const entries = Object.entries(files);
  if (entries.length === 0) return undefined;
  for (const [name] of entries) {
    if (!/^[A-Za-z0-9._-]+$/.test(name)) throw new Error(`bundled file name "${name}" must be a plain file name`);
  }
  return {
    beforeBundling: () => [],
    beforeInstall: () => [],
    afterBundling: (_inputDir, outputDir) =>
      entries.map(([name, source]) => `cp ${JSON.stringify(source)} ${JSON.stringify(path.join(outputDir, name))}`),
  };
}

/** A Node.js Lambda function with plusgate's defaults, its own log group and its own least-privilege role. */
export class PlusgateFunction extends Construct {
  /** The function (an `IFunction` for integrations). */
  public readonly lambda: NodejsFunction;
  /** Its execution role: holds only the grants made through this construct (and its log group). */
  public readonly role: Role;
  /** Its log group, with retention. */
  public readonly logGroup: LogGroup;

  constructor(scope: Construct, id: string, props: PlusgateFunctionProps) {
    super(scope, id);

    // An explicit log group has a retention (Lambda's implicit one keeps logs forever) and lets the role's
    // logs grant name one log group instead of the managed AWSLambdaBasicExecutionRole's `*`.
    this.logGroup = new LogGroup(this, 'Logs', {
      retention: props.logRetention ?? RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `plusgate ${props.handler} function: only the grants its construct makes`,
    });
    this.logGroup.grantWrite(this.role);

    this.lambda = new NodejsFunction(this, 'Function', {
      entry: path.join(PROJECT_ROOT, 'functions', 'handlers', `${props.handler}.ts`),
      handler: 'handler',
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: path.join(PROJECT_ROOT, 'package-lock.json'),
      description: props.description,
      // Node 22: the current Lambda LTS (20 is deprecated there); the code also runs on Node 20 locally.
      runtime: PLUSGATE_RUNTIME,
      // Graviton: cheaper per ms and at least as fast for this I/O-bound code; no native modules to rebuild.
      architecture: Architecture.ARM_64,
      // The slowest path must end in our own answer (503 page + Retry-After), not API Gateway's bare 5xx:
      // inquiry (2 s connect + 3 s answer) + intent (5 s) + its one `discover` fallback (5 s) + the ledger
      // write and a cold secret fetch stay under 25 s, which is below API Gateway's 29 s integration limit.
      timeout: props.timeout ?? Duration.seconds(25),
      // CPU scales with memory; 512 MB keeps TLS handshakes to Identity Plus and cold starts short.
      memorySize: props.memorySize ?? 512,
      role: this.role,
      logGroup: this.logGroup,
      environment: { ...props.environment },
      bundling: {
        // One definition for the functions and the cold-start benchmark (why each option: function-bundling.ts).
        ...FUNCTION_BUNDLING,
        mainFields: [...FUNCTION_BUNDLING.mainFields],
        format: OutputFormat.CJS,
        commandHooks: bundledFilesHooks(props.bundledFiles ?? {}),
      },
    });

    Validations.of(this.lambda).acknowledge({
      id: 'AwsSolutions-L1',
      reason:
        'Pinned to nodejs22.x on purpose: the bundles target node22 and the code must also run on Node 20 locally; move to the next runtime deliberately, with its own test run.',
    });
  }

  /** Sets `ENV.TABLE_NAME` to the table and grants exactly `actions` on it (no index, no `*`). */
  public bindTable(table: ITableV2, ...actions: RecordsTableAction[]): void {
    this.lambda.addEnvironment(ENV.TABLE_NAME, table.tableName);
    table.grants.actions(this.role, ...actions);
  }

  /**
   * Sets `envName` to the secret's full ARN (or its name, for a secret referenced by name) and grants read
   * on that one secret. The value itself never enters the environment: the function fetches it at run time.
   */
  public bindSecret(envName: string, secret: ISecret): void {
    this.lambda.addEnvironment(envName, secret.secretFullArn ?? secret.secretName);
    secret.grantRead(this.role);
  }
}
