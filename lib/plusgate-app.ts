/**
 * Wires the plusgate stack into a CDK app: configuration from context, the stack in the account and
 * region of the domain's certificate, and cdk-nag's AwsSolutions checks (synth fails on any finding that
 * is not acknowledged with a reason). Shared by bin/plusgate.ts and the infrastructure tests.
 */
import { type App, Tags, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { loadConfig, type LoadConfigOptions } from './config';
import { PlusgateStack } from './plusgate-stack';

/** Construct ID (and CloudFormation stack name) of the stack. */
export const STACK_ID = 'Plusgate';

/** Adds the plusgate stack and the cdk-nag checks to `app`; throws `ConfigError` on bad configuration. */
export function addPlusgate(app: App, options: LoadConfigOptions = {}): PlusgateStack {
  const config = loadConfig((key) => app.node.tryGetContext(key), options);
  const stack = new PlusgateStack(app, STACK_ID, {
    config,
    // A REGIONAL custom domain needs its ACM certificate in the same account and region: deploy there.
    env: { account: config.account, region: config.region },
    description: `plusgate: Identity Plus sign-in with mutual TLS for ${config.domainName}`,
  });
  Tags.of(stack).add('app', 'plusgate');
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  return stack;
}
