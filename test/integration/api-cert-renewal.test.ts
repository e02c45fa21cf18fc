/**
 * Renewing the Identity Plus API certificate against the simulator over real mutual TLS: the use case
 * (functions/handlers/renew-api-cert-app.ts), the real self-authority client and the simulator's
 * renew_certificate. The secret changes only when a renewal succeeded; the renewed certificate works
 * at once and the old one keeps working until it expires.
 */
import { X509Certificate } from 'node:crypto';
import https from 'node:https';
import { IdentityPlusClient } from '../../functions/adapters/identity-plus-client';
import type { ApiCredentials } from '../../functions/adapters/identity-plus-credentials';
import { apiCredentialsFromSecret } from '../../functions/adapters/secrets';
import { SelfAuthorityClient } from '../../functions/adapters/self-authority-client';
import type { ApiCertSecretPort, RenewalOutcome } from '../../functions/domain/api-cert-renewal';
import { RenewalError } from '../../functions/domain/errors';
import { type RenewalDeps, renewApiCertificate } from '../../functions/handlers/renew-api-cert-app';
import { type DevPki, type IssuedCert, demoSeed, issueCertificate } from '../../local/dev-pki';
import { IdentityPlusSimulator } from '../../local/identity-plus-simulator';
import type { RenewalFault } from '../../local/simulator-self-authority';
import { testPki } from '../support/test-pki';

const DAY = 86_400_000;
const SUBJECT = 'O=plusgate dev,OU=Service Agent,CN=plusgate dev service agent';

let pki: DevPki;
let sim: IdentityPlusSimulator;
/** An API certificate 300 days into a 365-day life: past the 3/4 mark. */
let aged: IssuedCert;
/** A fresh API certificate: 1 day into its life. */
let fresh: IssuedCert;

/** The secret in memory, counting writes; JSON as Secrets Manager would hold it. */
class MemorySecret implements ApiCertSecretPort {
  readonly description = 'test secret';
  writes = 0;
  constructor(public value: Record<string, string>) {}
  async read(): Promise<unknown> {
    return structuredClone(this.value);
  }
  async write(value: Readonly<Record<string, string>>): Promise<void> {
    this.writes++;
    this.value = { ...value };
  }
}

const pem = (cert: { cert: string; key: string }) => ({ certificate: cert.cert, privateKey: cert.key });

function deps(secret: ApiCertSecretPort, overrides: Partial<RenewalDeps> = {}) {
  const seen = { daysLeft: [] as number[], renewed: [] as RenewalOutcome[], failures: [] as RenewalError[] };
  const d: RenewalDeps = {
    secret,
    renew: (credentials: ApiCredentials, args) =>
      new SelfAuthorityClient({ baseUrl: sim.signonUrl, credentials, extraCa: pki.caChain }).renewCertificate(args),
    renewAtFraction: 0.75,
    now: () => new Date(),
    onDaysLeft: (days) => seen.daysLeft.push(days),
    onRenewed: (outcome) => seen.renewed.push(outcome),
    onFailure: (error) => seen.failures.push(error),
    ...overrides,
  };
  return { deps: d, seen };
}

/** Asks the simulator's /v1 about alice with `credentials`: works only with an accepted API certificate. */
async function inquireWith(credentials: ApiCredentials): Promise<string> {
  const client = new IdentityPlusClient({
    apiUrl: sim.apiUrl,
    signonUrl: sim.signonUrl,
    credentials,
    extraCa: pki.caChain,
  });
  try {
    const answer = await client.inquire(pki.devices.alice.serial);
    return answer.kind === 'profile' ? answer.profile.outcome : answer.outcome;
  } finally {
    await client.close();
  }
}

beforeAll(async () => {
  pki = await testPki();
  const now = Date.now();
  [aged, fresh] = await Promise.all([
    issueCertificate(pki.intermediate, {
      subject: SUBJECT,
      usage: 'client',
      notBefore: new Date(now - 300 * DAY),
      notAfter: new Date(now + 65 * DAY),
    }),
    issueCertificate(pki.intermediate, {
      subject: SUBJECT,
      usage: 'client',
      notBefore: new Date(now - DAY),
      notAfter: new Date(now + 364 * DAY),
    }),
  ]);
  sim = new IdentityPlusSimulator({
    tls: { cert: pki.server.cert, key: pki.server.key, ca: pki.caChain },
    apiClients: [pki.api.cert, aged.cert, fresh.cert],
    issuer: pki.intermediate,
    seed: demoSeed(pki),
  });
  await sim.start();
});

afterAll(async () => {
  await sim?.stop();
});

beforeEach(() => sim.reset());

describe('renewing the API certificate against the simulator', () => {
  it('renews a certificate past 3/4 of its life, stores the new one, and both work afterwards', async () => {
    const secret = new MemorySecret(pem(aged));
    const at = new Date();
    const { deps: d, seen } = deps(secret, { now: () => at });
    const outcome = await renewApiCertificate(d);

    expect(outcome.renewed).toBe(true);
    expect(outcome.oldSerial).toBe(aged.serial);
    expect(outcome.newSerial).not.toBe(aged.serial);
    expect(Date.parse(outcome.notAfter)).toBeGreaterThan(Date.now() + 360 * DAY);
    expect(secret.writes).toBe(1);
    const stored = apiCredentialsFromSecret(secret.value);
    expect('certificate' in stored && new X509Certificate(stored.certificate).serialNumber).toBe(
      BigInt(outcome.newSerial ?? '0')
        .toString(16)
        .toUpperCase(),
    );
    expect(seen.renewed).toEqual([outcome]);
    expect(seen.daysLeft).toEqual([Math.floor((Date.parse(outcome.notAfter) - at.getTime()) / DAY)]);
    expect(sim.stats().renewals).toBe(1);

    // The renewed certificate is accepted at once; the old one too, until it expires.
    expect(await inquireWith(stored)).toMatch(/^OK 0001/);
    expect(await inquireWith(pem(aged))).toMatch(/^OK 0001/);
  });

  it('does nothing before the mark, says when renewal is due, and emits the days left', async () => {
    const secret = new MemorySecret(pem(fresh));
    const { deps: d, seen } = deps(secret);
    const outcome = await renewApiCertificate(d);
    expect(outcome).toMatchObject({ renewed: false, oldSerial: fresh.serial });
    expect(outcome.reason).toMatch(
      /^not due: renewal is due \d{4}-\d{2}-\d{2}, at 75% of the lifetime \(363 days left\)$/,
    );
    expect(seen.daysLeft).toEqual([363]);
    expect(secret.writes).toBe(0);
    expect(sim.stats().renewals).toBe(0);
  });

  it('renews before the mark when forced', async () => {
    const secret = new MemorySecret(pem(fresh));
    const outcome = await renewApiCertificate(deps(secret).deps, { force: true });
    expect(outcome).toMatchObject({ renewed: true, oldSerial: fresh.serial, reason: 'renewal forced (363 days left)' });
    expect(secret.writes).toBe(1);
  });

  it('renews a PKCS#12 secret too (as put-api-cert stores what Identity Plus issues)', async () => {
    const secret = new MemorySecret({ p12: aged.p12.toString('base64'), password: aged.p12Password });
    const outcome = await renewApiCertificate(deps(secret).deps);
    expect(outcome.renewed).toBe(true);
    expect(Object.keys(secret.value).sort()).toEqual(['certificate', 'privateKey']);
  });

  it.each<[RenewalFault | 'http500' | 'drop', RenewalError['kind'], RegExp]>([
    ['refuse', 'refused', /^Identity Plus refused the renewal: simulated refusal/],
    ['not-renewed', 'not-renewed', /outcome "not due"/],
    ['garbage', 'unusable', /not JSON/],
    ['mismatched-key', 'unusable', /does not open/],
    ['expired', 'unusable', /has expired/],
    ['http500', 'refused', /HTTP 500/],
    ['drop', 'unreachable', /did not answer/],
  ])('stores nothing when the simulator is told %s, and counts the failure', async (fault, kind, message) => {
    sim.setFault(fault === 'http500' || fault === 'drop' ? { mode: fault } : { mode: 'renewal', renewal: fault });
    const secret = new MemorySecret(pem(aged));
    const before = JSON.stringify(secret.value);
    const { deps: d, seen } = deps(secret);

    const error = await renewApiCertificate(d).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(RenewalError);
    expect(error).toMatchObject({ kind, message: expect.stringMatching(message) });
    expect(secret.writes).toBe(0);
    expect(JSON.stringify(secret.value)).toBe(before);
    expect(seen.failures).toEqual([error]);
    expect(seen.daysLeft).toEqual([64]);
    // The old certificate still works.
    sim.setFault({ mode: 'none' });
    expect(await inquireWith(pem(aged))).toMatch(/^OK 0001/);
  });

  it('stores the PKCS#12 form when the PEM pair in the same answer does not open', async () => {
    const secret = new MemorySecret(pem(aged));
    const { deps: d } = deps(secret, {
      renew: async (credentials, args) => {
        const renewed = await new SelfAuthorityClient({
          baseUrl: sim.signonUrl,
          credentials,
          extraCa: pki.caChain,
        }).renewCertificate(args);
        if (!('certificate' in renewed.secret) || !renewed.fallback) throw new Error('expected both forms');
        // The PEM pair with a key that is not its certificate's, as an encrypted or mangled key would be.
        return { ...renewed, credentials: { certificate: renewed.secret.certificate, privateKey: pki.api.key } };
      },
    });
    const outcome = await renewApiCertificate(d);
    expect(outcome.renewed).toBe(true);
    expect(Object.keys(secret.value).sort()).toEqual(['p12', 'password']);
    expect(await inquireWith(apiCredentialsFromSecret(secret.value))).toMatch(/^OK 0001/);
  });

  it('stores nothing and reports it when the store fails', async () => {
    const secret = new MemorySecret(pem(aged));
    secret.write = async () => {
      throw new Error('AccessDeniedException');
    };
    await expect(renewApiCertificate(deps(secret).deps)).rejects.toMatchObject({
      kind: 'store',
      message: 'the renewed certificate could not be stored in test secret: AccessDeniedException',
    });
  });

  it('reports a secret it cannot read as a failure, without renewing', async () => {
    const secret = new MemorySecret({ certificate: 'not pem', privateKey: 'not pem' });
    const { deps: d, seen } = deps(secret);
    await expect(renewApiCertificate(d)).rejects.toMatchObject({ kind: 'unusable' });
    expect(seen.failures).toHaveLength(1);
    expect(sim.stats().renewals).toBe(0);
  });
});

describe('the simulator self-authority API', () => {
  function post(body: string, client: { cert: string; key: string } | null): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
      const url = new URL('/api/v1', sim.signonUrl);
      const req = https.request(
        url,
        {
          method: 'POST',
          ca: pki.caChain,
          ...(client ?? {}),
          headers: { 'content-type': 'application/json' },
          agent: false,
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk) => {
            text += chunk;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  it('renews only a service agent certificate: a device certificate gets 403', async () => {
    const answer = await post('{"operation":"renew_certificate","args":{"device":"x"}}', pki.devices.alice);
    expect(answer.status).toBe(403);
    expect(JSON.parse(answer.text).error).toMatch(/service agent/);
  });

  it.each([
    ['not JSON', 'nope', /JSON/],
    ['another operation', '{"operation":"enroll","args":{}}', /unknown operation "enroll"/],
    ['no device', '{"operation":"renew_certificate","args":{}}', /args.device/],
    [
      'a tentative that is not boolean',
      '{"operation":"renew_certificate","args":{"device":"x","tentative":"yes"}}',
      /tentative/,
    ],
  ])('answers 400 with a reason for %s', async (_what, body, reason) => {
    const answer = await post(body, pki.api);
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.text).error).toMatch(reason);
  });

  it('lets the server decide with tentative: a fresh certificate is not due', async () => {
    const answer = await post('{"operation":"renew_certificate","args":{"device":"x","tentative":true}}', fresh);
    expect(JSON.parse(answer.text)).toEqual({ error: '', result: { outcome: 'not due', name: 'x' } });
  });
});
