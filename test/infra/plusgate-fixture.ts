/**
 * Builds the plusgate app the way bin/plusgate.ts does, with cdk.json's context (feature flags and the
 * example configuration) plus per-test overrides. Fast by default: bundling and the built-in CloudFormation
 * validator are off (the cdk-nag checks still run on every synth); `realBundling` turns both on.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { addPlusgate } from '../../lib/plusgate-app';
import type { PlusgateStack } from '../../lib/plusgate-stack';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');

/** cdk.json "context": feature flags and the example configuration. */
export const CDK_JSON_CONTEXT: Readonly<Record<string, unknown>> = JSON.parse(
  readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8'),
).context;

export interface Synthesized {
  readonly app: App;
  readonly stack: PlusgateStack;
  readonly template: Template;
}

/** Synthesizes the stack with cdk.json's context and `overrides`. */
export function synthPlusgate(
  overrides: Record<string, unknown> = {},
  options: { realBundling?: boolean } = {},
): Synthesized {
  const app = new App({
    context: { ...CDK_JSON_CONTEXT, ...overrides, ...(options.realBundling ? {} : { 'aws:cdk:bundling-stacks': [] }) },
    builtinCloudFormationValidation: options.realBundling === true,
  });
  const stack = addPlusgate(app, { baseDir: REPO_ROOT });
  return { app, stack, template: Template.fromStack(stack) };
}

/** Every IAM policy statement in the template (policies, managed policies and inline role policies). */
export function allPolicyStatements(
  template: Template,
): Array<{ logicalId: string; statement: Record<string, unknown> }> {
  const out: Array<{ logicalId: string; statement: Record<string, unknown> }> = [];
  const push = (logicalId: string, doc: { Statement?: unknown } | undefined) => {
    const statements = doc?.Statement;
    for (const statement of Array.isArray(statements) ? statements : statements ? [statements] : [])
      out.push({ logicalId, statement });
  };
  for (const [id, r] of Object.entries(
    template.toJSON().Resources as Record<string, { Type: string; Properties?: any }>,
  )) {
    if (r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy') push(id, r.Properties?.PolicyDocument);
    if (r.Type === 'AWS::IAM::Role') for (const p of r.Properties?.Policies ?? []) push(id, p.PolicyDocument);
  }
  return out;
}

/** `x` as an array (IAM allows a single value or a list). */
export function asList<T>(x: T | T[] | undefined): T[] {
  return x === undefined ? [] : Array.isArray(x) ? x : [x];
}
