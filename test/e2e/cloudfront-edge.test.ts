/**
 * End to end, as a new user would try the CloudFront edge (issue 15): `npm start -- --edge cloudfront` on
 * free ports, driven by the real curl. The gateway then behaves like CloudFront's optional viewer mTLS in
 * front of the edge function's URL: no certificate gets the landing page, a trusted one signs in, an expired
 * or foreign one is refused in the handshake, and certificate headers a client sends count for nothing. The
 * simulator's counters (`GET /__admin/stats`) tell what reached "Identity Plus". One more run with the
 * default edge checks that it still refuses a visitor without a certificate.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import {
  type CurlResult,
  type LocalModePorts,
  type LocalModeRun,
  type RunningProcess,
  curl,
  curlAs,
  simulatorAdmin,
  startLocalMode,
} from '../support/processes';

jest.setTimeout(120_000);

const HELP_URL = 'https://help.example.com/get-a-certificate';

let dataDir: string;
let defaultDataDir: string;
let ports: LocalModePorts;
let defaultPorts: LocalModePorts;
let running: RunningProcess | undefined;
const pki = () => path.join(dataDir, 'pki');
const gateway = () => `https://localhost:${ports.gateway}`;

/** curl as a person (or with no certificate) to the CloudFront stand-in. */
function as(person: string | null, route: string, extra: string[] = []): Promise<CurlResult> {
  return curlAs(pki(), person, `${gateway()}${route}`, extra);
}

async function stats(): Promise<{ inquiries: number; intents: number }> {
  const res = await simulatorAdmin(pki(), ports.simulator, 'stats');
  expect(res.status).toBe(200);
  return JSON.parse(res.body);
}

/** The decimal serial of a person's certificate in the dev PKI folder. */
function serialOf(person: string): string {
  const cert = new X509Certificate(readFileSync(path.join(pki(), `${person}.pem`)));
  return BigInt(`0x${cert.serialNumber}`).toString(10);
}

/** The URL-encoded PEM of a person's certificate, as CloudFront-Viewer-Cert-Pem carries one. */
function encodedPem(person: string): string {
  return encodeURIComponent(readFileSync(path.join(pki(), `${person}.pem`), 'utf8'));
}

/** Waits until local mode's output has not grown for 300 ms (at most 5 s). */
async function settledOutput(): Promise<void> {
  let length = -1;
  for (let i = 0; i < 50 && running!.output().length !== length; i++) {
    length = running!.output().length;
    await new Promise((r) => setTimeout(r, 300));
  }
}

let cloudFront: LocalModeRun | undefined;
let defaultRun: LocalModeRun | undefined;
beforeAll(async () => {
  [cloudFront, defaultRun] = await Promise.all([
    startLocalMode('plusgate-cloudfront-', ['--edge', 'cloudfront'], {
      timeoutMs: 90_000,
      env: { PLUSGATE_NO_CERTIFICATE_HELP_URL: HELP_URL },
    }),
    startLocalMode('plusgate-default-edge-', ['--quiet'], { timeoutMs: 90_000 }),
  ]);
  ({ dataDir, ports, process: running } = cloudFront);
  ({ dataDir: defaultDataDir, ports: defaultPorts } = defaultRun);
});

afterAll(() => Promise.all([cloudFront?.stop(), defaultRun?.stop()]));

describe('local mode with --edge cloudfront, driven by curl', () => {
  it('says which edge runs, and its no-certificate command gets the landing page', async () => {
    const lines = running!.output().split('\n');
    expect(lines.find((l) => l.includes(gateway()))).toMatch(/gateway \(CloudFront\).*optional mutual TLS/);
    const line = lines.find((l) => l.includes('no certificate (landing page)'));
    expect(line).toBeDefined();
    const res = await curl((line ?? '').slice((line ?? '').indexOf('curl ') + 5).split(' '));
    expect(res.status).toBe(200);
    expect(res.body).toContain('Sign in with your device certificate');
  });

  it.each([
    ['TLS 1.3', ['--tlsv1.3']],
    ['TLS 1.2', ['--tls-max', '1.2']],
  ])(
    'answers a visitor without a certificate with the landing page over %s, never a handshake failure',
    async (_tls, flags) => {
      const page = await as(null, '/signin?return=%2Fwhoami', flags);
      expect(page.exitCode).toBe(0);
      expect(page.status).toBe(200);
      expect(page.body).toMatch(/<title>Sign in with your device certificate/);
      expect(page.body).toContain(`href="${HELP_URL}"`);
      expect(page.body).toMatch(/[Rr]estart the browser/);
      expect(page.body).toContain('.p12');
    },
  );

  it('answers a JSON caller without a certificate 401 no-certificate, with the help link', async () => {
    const before = await stats();
    const res = await as(null, '/whoami', ['-H', 'Accept: application/json']);
    expect(res.status).toBe(401);
    expect(JSON.parse(res.body)).toEqual({
      decision: 'deny',
      reason: 'no-certificate',
      message: expect.any(String),
      help: HELP_URL,
    });
    expect(await stats()).toEqual(before);
  });

  it('signs alice in', async () => {
    const page = await as('alice', '/signin');
    expect(page.status).toBe(200);
    expect(page.body).toContain('Alice Archer');
    const whoami = await as('alice', '/whoami', ['-H', 'Accept: application/json']);
    expect(whoami.status).toBe(200);
    expect(JSON.parse(whoami.body)).toMatchObject({
      decision: 'allow',
      user: { name: 'Alice Archer' },
      device: { serial: serialOf('alice') },
    });
  });

  it('sends bob to the sign-on page, and following the redirects signs him in', async () => {
    const first = await as('bob', '/signin?return=%2Fwhoami');
    expect(first.status).toBe(302);
    expect(first.location).toMatch(new RegExp(`^https://localhost:${ports.simulator}/[A-Za-z0-9_-]+$`));

    const followed = await as('bob', '/signin?return=%2Fwhoami', ['-L']);
    expect(followed.status).toBe(200);
    expect(followed.redirects).toBe(3); // /signin → sign-on → /return → /whoami
    expect(followed.effectiveUrl).toBe(`${gateway()}/whoami`);
    expect(JSON.parse(followed.body)).toMatchObject({ decision: 'allow', user: { name: 'Bob Baker' } });
  });

  it.each([
    ['frank (expired)', 'frank', 'CERT_HAS_EXPIRED', 'TLS 1.3', ['--tlsv1.3']],
    ['frank (expired)', 'frank', 'CERT_HAS_EXPIRED', 'TLS 1.2', ['--tls-max', '1.2']],
    ['mallory (foreign CA)', 'mallory', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'TLS 1.3', ['--tlsv1.3']],
    ['mallory (foreign CA)', 'mallory', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'TLS 1.2', ['--tls-max', '1.2']],
  ])(
    'refuses %s in the TLS handshake (%s %s): no HTTP answer, nothing asked',
    async (_who, person, reason, _tls, flags) => {
      await settledOutput();
      const before = running!.output().length;
      const counted = await stats();
      const res = await as(person, '/signin', flags);
      expect(res.status).toBe(0);
      // 35: handshake failed (TLS 1.2); 52/56: closed right after the client's Finished (TLS 1.3).
      expect([35, 52, 56]).toContain(res.exitCode);
      const refused = `TLS handshake refused from 127.0.0.1: ${reason}`;
      for (let i = 0; i < 50 && !running!.output().slice(before).includes(refused); i++) {
        await new Promise((r) => setTimeout(r, 100));
      }
      const logged = running!.output().slice(before);
      expect(logged).toContain(refused);
      expect(logged).not.toMatch(/GET \/signin/);
      expect(await stats()).toEqual(counted);
    },
  );

  it("does not sign in a visitor without a certificate who sends alice's certificate in CloudFront's headers", async () => {
    const before = await stats();
    const forged = [
      '-H',
      'CloudFront-Viewer-Cert-Present: 1',
      '-H',
      `CloudFront-Viewer-Cert-Pem: ${encodedPem('alice')}`,
      '-H',
      `CloudFront-Viewer-Cert-Serial-Number: ${BigInt(serialOf('alice')).toString(16)}`,
      '-H',
      'CloudFront-Viewer-Address: 203.0.113.1:443',
    ];
    const page = await as(null, '/signin', forged);
    expect(page.status).toBe(200);
    expect(page.body).toContain('Sign in with your device certificate');
    expect(page.body).not.toContain('Alice');
    const json = await as(null, '/whoami', [...forged, '-H', 'Accept: application/json']);
    expect(json.status).toBe(401);
    expect(JSON.parse(json.body)).toMatchObject({ decision: 'deny', reason: 'no-certificate' });
    expect(await stats()).toEqual(before);
  });

  it("answers bob as bob when he sends alice's certificate in CloudFront's headers", async () => {
    const forged = [
      '-H',
      'CloudFront-Viewer-Cert-Present: 1',
      '-H',
      `CloudFront-Viewer-Cert-Pem: ${encodedPem('alice')}`,
    ];
    const res = await as('bob', '/whoami', [...forged, '-H', 'Accept: application/json']);
    expect(res.status).toBe(200);
    const body = JSON.parse(res.body);
    expect(body).toMatchObject({ device: { serial: serialOf('bob') }, user: { name: 'Bob Baker' } });
    expect(res.body).not.toContain('Alice');
  });

  it('lets only GET and HEAD through, as the distribution allows', async () => {
    const post = await as('alice', '/signin', ['-X', 'POST', '--data', 'x=1']);
    expect(post.status).toBe(403);
    expect(post.body).toContain('not configured to allow the HTTP request method');
  });

  it('still answers 421 to a Host that is not a loopback name', async () => {
    const res = await as(null, '/signin', ['-H', 'Host: evil.example']);
    expect(res.status).toBe(421);
  });
});

describe('local mode with the default edge (API Gateway)', () => {
  it('still refuses a visitor without a certificate in the TLS handshake', async () => {
    const res = await curlAs(
      path.join(defaultDataDir, 'pki'),
      null,
      `https://localhost:${defaultPorts.gateway}/signin`,
    );
    expect(res.status).toBe(0);
    expect([35, 52, 56]).toContain(res.exitCode);
  });
});
