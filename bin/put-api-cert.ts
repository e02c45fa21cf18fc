#!/usr/bin/env node
/**
 * `npm run put-api-cert -- ...`: checks the Identity Plus API certificate locally, then creates the
 * Secrets Manager secret (or puts a new version into an existing one). See cli/api-cert-input.ts and
 * README, "Deploy to AWS".
 */
import {
  ApiCertInputError,
  describeApiCert,
  parsePutApiCertArgs,
  prepareApiCertSecret,
  type PreparedApiCertSecret,
  PUT_API_CERT_USAGE,
  type PutApiCertArgs,
} from '../cli/api-cert-input';
import { UsageError } from '../cli/usage-error';

async function main(argv: readonly string[]): Promise<number> {
  let args: PutApiCertArgs;
  try {
    args = parsePutApiCertArgs(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`put-api-cert: ${err.message}\n\n${PUT_API_CERT_USAGE}`);
    return 2;
  }
  if (args.help) {
    console.log(PUT_API_CERT_USAGE);
    return 0;
  }

  let prepared: PreparedApiCertSecret;
  try {
    prepared = await prepareApiCertSecret(args.source);
  } catch (err) {
    if (!(err instanceof ApiCertInputError)) throw err;
    console.error(`put-api-cert: ${err.message}`);
    return 1;
  }
  console.log('Identity Plus API certificate opens with Node TLS:');
  for (const line of describeApiCert(prepared.summary)) console.log(`  ${line}`);

  // The SDK warns about Node 20 on every call; the script runs locally, not in Lambda.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const sm = await import('@aws-sdk/client-secrets-manager');
  const client = new sm.SecretsManagerClient(args.region ? { region: args.region } : {});
  try {
    const created = await client.send(
      new sm.CreateSecretCommand({
        Name: args.secretName,
        Description: 'plusgate: Identity Plus API certificate (JSON: p12+password or certificate+privateKey)',
        SecretString: prepared.secretString,
      }),
    );
    console.log(`Created secret ${args.secretName} (${created.ARN}).`);
  } catch (err) {
    if (!(err instanceof sm.ResourceExistsException)) throw err;
    const put = await client.send(
      new sm.PutSecretValueCommand({ SecretId: args.secretName, SecretString: prepared.secretString }),
    );
    console.log(
      `Secret ${args.secretName} exists: stored a new version (${put.VersionId}). Functions pick it up within 15 minutes.`,
    );
  }
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    // AWS errors carry no secret material; print their name and message only.
    const e = err as { name?: string; message?: string };
    console.error(`put-api-cert: ${e.name ?? 'Error'}: ${e.message ?? String(err)}`);
    process.exitCode = 1;
  },
);
