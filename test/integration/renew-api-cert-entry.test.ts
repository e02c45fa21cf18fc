/**
 * The daily renewal's Lambda entry itself (middy chain, Powertools logs and metrics, the AWS SDK): against
 * the Secrets Manager emulator and the simulator's self-authority API over real mutual TLS. It stores a new
 * version only when the renewal succeeded, emits the days left, renewals and failures as EMF, and never
 * writes the private key or a password to its output.
 */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { X509Certificate } from 'node:crypto';
import type { Context } from 'aws-lambda';
import { SETTINGS } from '../../functions/config/settings';
import { ENV } from '../../functions/config/names';
import { type DevPki, type IssuedCert, demoSeed, issueCertificate } from '../../local/dev-pki';
import { IdentityPlusSimulator } from '../../local/identity-plus-simulator';
import { SecretsManagerEmulator } from '../../local/secrets-manager-emulator';
import { testPki } from '../support/test-pki';

const DAY = 86_400_000;
const SECRET = 'plusgate/api-cert';
const context = {
  functionName: 'renew',
  awsRequestId: 'req',
  getRemainingTimeInMillis: () => 60_000,
} as unknown as Context;
const saved = { ...process.env };

let pki: DevPki;
let aged: IssuedCert;
let sim: IdentityPlusSimulator;
let emulator: SecretsManagerEmulator;

type Entry = (event: unknown, context: Context) => Promise<unknown>;
function entry(): Entry {
  let handler: Entry | undefined;
  jest.isolateModules(() => {
    handler = require('../../functions/handlers/renew-api-cert').handler;
  });
  if (!handler) throw new Error('no handler');
  return handler;
}

/** Runs the entry and returns what it resolved or threw, and everything it wrote to stdout and stderr. */
async function run(event: unknown): Promise<{ result?: unknown; error?: unknown; output: string }> {
  const written: string[] = [];
  const capture = (chunk: string | Uint8Array) => {
    written.push(String(chunk));
    return true;
  };
  const spies = [
    jest.spyOn(process.stdout, 'write').mockImplementation(capture),
    jest.spyOn(process.stderr, 'write').mockImplementation(capture),
  ];
  try {
    return { result: await entry()(event, context), output: written.join('') };
  } catch (error) {
    return { error, output: written.join('') };
  } finally {
    for (const spy of spies) spy.mockRestore();
  }
}

const emf = (output: string) =>
  output
    .split('\n')
    .filter((line) => line.includes('"_aws"'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);

async function currentSecret(): Promise<{ certificate?: string; privateKey?: string; p12?: string }> {
  const client = new SecretsManagerClient({ endpoint: emulator.endpoint });
  const answer = await client.send(new GetSecretValueCommand({ SecretId: SECRET }));
  return JSON.parse(answer.SecretString ?? '{}');
}

beforeAll(async () => {
  pki = await testPki();
  const now = Date.now();
  aged = await issueCertificate(pki.intermediate, {
    subject: 'O=plusgate dev,OU=Service Agent,CN=plusgate dev service agent',
    usage: 'client',
    notBefore: new Date(now - 300 * DAY),
    notAfter: new Date(now + 65 * DAY),
  });
  sim = new IdentityPlusSimulator({
    tls: { cert: pki.server.cert, key: pki.server.key, ca: pki.caChain },
    apiClients: [aged.cert],
    issuer: pki.intermediate,
    seed: demoSeed(pki),
  });
  await sim.start();
  // The key pair the environment below signs with (the emulator refuses any other).
  emulator = new SecretsManagerEmulator({ secrets: {}, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  await emulator.start();
  Object.assign(process.env, {
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_MAX_ATTEMPTS: '1',
    AWS_ENDPOINT_URL_SECRETS_MANAGER: emulator.endpoint,
    POWERTOOLS_LOG_LEVEL: 'INFO',
    [ENV.API_CERT_SECRET]: SECRET,
    [ENV.IDENTITY_PLUS_EXTRA_CA]: pki.caChain,
    [SETTINGS.identityPlusSelfAuthorityUrl.env]: sim.signonUrl,
    [SETTINGS.apiCertRenewAtFraction.env]: '0.75',
  });
});

afterAll(async () => {
  process.env = saved;
  await sim?.stop();
  await emulator?.stop();
});

beforeEach(() => {
  sim.reset();
  emulator.setSecret(SECRET, JSON.stringify({ p12: aged.p12.toString('base64'), password: aged.p12Password }));
});

describe('the renew-api-cert Lambda entry', () => {
  it('renews a certificate past 3/4 of its life, stores it as a new version, and counts it', async () => {
    const { result, error, output } = await run({ source: 'aws.events', time: new Date().toISOString() });
    expect(error).toBeUndefined();
    expect(result).toMatchObject({ renewed: true, oldSerial: aged.serial });

    const stored = await currentSecret();
    expect(stored.certificate).toContain('-----BEGIN CERTIFICATE-----');
    const serial = BigInt(`0x${new X509Certificate(stored.certificate ?? '').serialNumber}`).toString(10);
    expect(serial).toBe((result as { newSerial: string }).newSerial);

    const metrics = emf(output);
    expect(metrics).toEqual([expect.objectContaining({ service: 'plusgate', ApiCertRenewals: 1 })]);
    expect(metrics[0]?.ApiCertDaysLeft).toBeGreaterThanOrEqual(364);
    expect(output).toContain('API certificate renewed');
    // Neither the new key nor the PKCS#12 password of either certificate reaches the output.
    expect(output).not.toContain('PRIVATE KEY');
    expect(output).not.toContain(stored.privateKey?.split('\n')[1] ?? 'unreachable');
    expect(output).not.toContain(aged.p12.toString('base64').slice(0, 40));
    expect(output).not.toMatch(/"password"/);
  });

  it('keeps the secret and counts a failure when Identity Plus refuses, and rethrows for the Errors metric', async () => {
    sim.setFault({ mode: 'renewal', renewal: 'mismatched-key' });
    const before = await currentSecret();
    const { error, output } = await run({});
    expect(error).toMatchObject({ name: 'RenewalError', kind: 'unusable' });
    expect(await currentSecret()).toEqual(before);
    expect(emf(output)).toEqual([
      expect.objectContaining({ service: 'plusgate', ApiCertRenewalFailures: 1, ApiCertDaysLeft: 64 }),
    ]);
    expect(output).toContain('API certificate renewal failed; the current certificate stays in use');
    expect(output).not.toContain('PRIVATE KEY');
  });

  it('only reports the days left before the mark, and renews when invoked with {"force": true}', async () => {
    const fresh = await issueCertificate(pki.intermediate, {
      subject: 'O=plusgate dev,OU=Service Agent,CN=plusgate dev service agent',
      usage: 'client',
      notBefore: new Date(Date.now() - DAY),
      notAfter: new Date(Date.now() + 364 * DAY),
    });
    sim.acceptApiClient(fresh.cert);
    emulator.setSecret(SECRET, JSON.stringify({ certificate: fresh.cert, privateKey: fresh.key }));

    const notDue = await run({});
    expect(notDue.result).toMatchObject({ renewed: false, oldSerial: fresh.serial });
    expect(emf(notDue.output)).toEqual([expect.objectContaining({ ApiCertDaysLeft: 363 })]);
    expect(await currentSecret()).toEqual({ certificate: fresh.cert, privateKey: fresh.key });

    // Only a literal true forces: a scheduled event's fields or a string do not.
    expect((await run({ force: 'true' })).result).toMatchObject({ renewed: false });
    const forced = await run({ force: true });
    expect(forced.result).toMatchObject({ renewed: true, oldSerial: fresh.serial });
  });
});
