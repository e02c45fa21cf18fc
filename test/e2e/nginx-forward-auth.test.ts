/**
 * A real proxy in the loop: nginx (Debian's package) terminates mutual TLS with the dev CA and asks local
 * mode's GET /verify about every request, using the example configuration shipped in examples/nginx/,
 * including its cache of allows. Between nginx and /verify sits a recording hop, where the SigV4-signing
 * proxy sits in AWS: it passes every request on unchanged and keeps the headers nginx sent.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import {
  type CurlResult,
  REPO_ROOT,
  type RunningProcess,
  curl,
  freePorts,
  localModeArgs,
  startNpm,
} from '../support/processes';
import { only } from '../support/only';
import { type HopRequest, nginxMainConfig, startEchoApp, startRecordingHop } from '../support/proxy-harness';

jest.setTimeout(120_000);

const nginxAvailable = spawnSync('nginx', ['-v']).status === 0;
if (!nginxAvailable && process.env.CI)
  throw new Error('nginx is not installed: .ci/run installs it (apt-get install nginx)');
const describeWithNginx = nginxAvailable ? describe : describe.skip;

let dir: string;
let local: RunningProcess | undefined;
let nginx: ChildProcess | undefined;
let upstream: Server | undefined;
let verifyHop: Server | undefined;
let ports: Record<'gateway' | 'simulator' | 'dynamodb' | 'service' | 'nginx' | 'upstream' | 'verifyHop', number>;
const pki = (file: string) => path.join(dir, 'data', 'pki', file);
/** Every request nginx sent towards /verify, as the recording hop saw it. */
const verifyRequests: HopRequest[] = [];

/** curl to nginx as a demo person. */
function through(person: string, route: string, extra: string[] = []): Promise<CurlResult> {
  return curl([
    '--cacert',
    pki('ca.pem'),
    '--cert',
    pki(`${person}.pem`),
    '--key',
    pki(`${person}.key`),
    ...extra,
    `https://localhost:${ports.nginx}${route}`,
  ]);
}

/** curl to nginx as a demo person, with what nginx says about its cache of plusgate's answers. */
async function throughCache(person: string, route: string): Promise<CurlResult & { cache: string }> {
  const headersFile = path.join(dir, `headers-${person}-${Date.now()}-${Math.random()}`);
  const res = await through(person, route, ['-D', headersFile]);
  const cache = /^x-plusgate-cache:\s*(\S*)/im.exec(readFileSync(headersFile, 'utf8'))?.[1] ?? '';
  return { ...res, cache };
}

/** How many decisions local mode's plusgate has made (its Prometheus counter, all labels), by label set. */
async function decisions(): Promise<{ total: number; of: (labels: string) => number }> {
  const text = await (await fetch(`http://127.0.0.1:${ports.service}/metrics`)).text();
  const lines = text.split('\n').filter((line) => line.startsWith('plusgate_decisions_total'));
  const value = (line: string) => Number(line.slice(line.lastIndexOf(' ') + 1));
  return {
    total: lines.reduce((sum, line) => sum + value(line), 0),
    of: (labels) => lines.filter((line) => line.includes(labels)).reduce((sum, line) => sum + value(line), 0),
  };
}

/** The example server block with its placeholders filled, inside a minimal main configuration. */
function nginxConfig(): string {
  const server = readFileSync(path.join(REPO_ROOT, 'examples', 'nginx', 'plusgate-forward-auth.conf'), 'utf8')
    .replaceAll('{{LISTEN}}', `127.0.0.1:${ports.nginx}`)
    .replaceAll('{{SERVER_CERT}}', pki('server.pem'))
    .replaceAll('{{SERVER_KEY}}', pki('server.key'))
    .replaceAll('{{CLIENT_CA}}', pki('ca.pem'))
    .replaceAll('{{VERIFY_URL}}', `http://127.0.0.1:${ports.verifyHop}/verify`)
    .replaceAll('{{PUBLIC_ORIGIN}}', `https://localhost:${ports.nginx}`)
    .replaceAll('{{UPSTREAM}}', `http://127.0.0.1:${ports.upstream}`)
    .replaceAll('{{CACHE_DIR}}', path.join(dir, 'nginx', 'plusgate-cache'));
  const directives = server.split('\n').filter((line) => !line.trim().startsWith('#'));
  expect(directives.join('\n')).not.toMatch(/\{\{/);
  return nginxMainConfig(path.join(dir, 'nginx'), [server]);
}

describeWithNginx('nginx forward-auth against local mode', () => {
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'plusgate-nginx-'));
    const [gateway, simulator, dynamodb, service, nginxPort, upstreamPort, hopPort] = await freePorts(7);
    ports = { gateway, simulator, dynamodb, service, nginx: nginxPort, upstream: upstreamPort, verifyHop: hopPort };

    // The application behind nginx: echoes what it was told about the caller, and every other header that
    // looks like plusgate's or the certificate's (underscore spellings included) that reached it.
    upstream = await startEchoApp(ports.upstream, (name) =>
      /^x[-_](plusgate[-_]|client[-_]cert$|original[-_]url$)/.test(name),
    );

    // The hop between nginx and /verify (the SigV4-signing proxy's place in AWS): records, then passes on.
    verifyHop = await startRecordingHop(ports.verifyHop, ports.service, verifyRequests);

    local = await startNpm(
      [
        ...localModeArgs(path.join(dir, 'data'), { gateway, simulator, dynamodb, service }),
        '--allowed-return-origins',
        `https://localhost:${nginxPort}`,
        '--quiet',
      ],
      'plusgate local ready',
    );

    const temp = path.join(dir, 'nginx');
    mkdirSync(temp, { recursive: true });
    writeFileSync(path.join(temp, 'nginx.conf'), nginxConfig());
    const test = spawnSync('nginx', ['-t', '-p', temp, '-c', path.join(temp, 'nginx.conf')], { encoding: 'utf8' });
    expect(test.stderr).toContain('test is successful');
    nginx = spawn('nginx', ['-p', temp, '-c', path.join(temp, 'nginx.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
    // Ready when it answers a TLS handshake (any HTTP status).
    for (let i = 0; i < 50; i++) {
      if ((await through('alice', '/health')).status > 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  afterAll(async () => {
    nginx?.kill('SIGQUIT');
    await local?.interrupt();
    await new Promise((resolve) => (upstream ? upstream.close(resolve) : resolve(undefined)));
    await new Promise((resolve) => (verifyHop ? verifyHop.close(resolve) : resolve(undefined)));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('lets alice through to the application, which sees who she is', async () => {
    const res = await through('alice', '/app/orders?page=2');
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({
      path: '/app/orders?page=2',
      method: 'GET',
      user: 'org:org-ref-alice-0001',
      roles: 'member',
      serial: expect.stringMatching(/^\d+$/),
      passedOn: [],
    });
  });

  it('asks plusgate with GET even when the application request is a POST with a body', async () => {
    const res = await through('alice', '/app/orders', [
      '-X',
      'POST',
      '-H',
      'content-type: application/json',
      '--data',
      '{"item":1}',
    ]);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({ method: 'POST', user: 'org:org-ref-alice-0001' });
  });

  it('gives the application only the identity nginx got for the verified certificate, whatever the client sent', async () => {
    // Every name the example strips (its comments and the README list them), each forged by the client.
    const forged = [
      'X-Plusgate-Admin: true',
      'X-Plusgate-User: mallory',
      'X-Plusgate-Roles: org. administrator',
      'X-Plusgate-Serial: 1',
      'X-Plusgate-Decision: allow',
      'X-Plusgate-Reason: forged',
      'X-Plusgate-Signin: https://evil.example/',
      'X-Plusgate-Cache: HIT',
      `X-Client-Cert: ${encodeURIComponent(readFileSync(pki('erin.pem'), 'utf8'))}`,
      'X-Original-URL: https://evil.example/',
      // nginx ignores header names with underscores (ignore_invalid_headers, its default): they never pass.
      'X_Plusgate_User: mallory',
      'X_Plusgate_Admin: true',
    ];
    const res = await through(
      'alice',
      '/app/forged',
      forged.flatMap((h) => ['-H', h]),
    );
    expect(res.status).toBe(200);
    const alice = new X509Certificate(readFileSync(pki('alice.pem')));
    expect(JSON.parse(res.body)).toEqual({
      path: '/app/forged',
      method: 'GET',
      user: 'org:org-ref-alice-0001',
      roles: 'member',
      serial: BigInt(`0x${alice.serialNumber}`).toString(),
      passedOn: [],
    });
  });

  it("sends /verify only the certificate nginx verified and the page asked for: none of the client's headers, no body", async () => {
    // dave (unknown at Identity Plus) is never cached, so each of his requests reaches /verify.
    const route = `/app/verify-headers-${Date.now()}`;
    const sent = [
      'Content-Type: application/x-www-form-urlencoded',
      'Cookie: session=secret',
      'Authorization: Bearer secret',
      'X-Forwarded-For: 1.2.3.4',
      'X-Amz-Security-Token: forged',
      'X-Plusgate-Admin: true',
      `X-Client-Cert: ${encodeURIComponent(readFileSync(pki('alice.pem'), 'utf8'))}`,
      'X-Original-URL: https://evil.example/',
    ];
    const res = await through('dave', route, [...sent.flatMap((h) => ['-H', h]), '--data', 'password=secret']);
    expect(res.status).toBe(403);
    const asked = only(
      verifyRequests.filter((r) => r.headers['x-original-url'] === `https://localhost:${ports.nginx}${route}`),
      '/verify request for this page',
    );
    expect([asked.method, asked.url, asked.bodyBytes]).toEqual(['GET', '/verify', 0]);
    expect(Object.keys(asked.headers).sort()).toEqual(['connection', 'host', 'x-client-cert', 'x-original-url']);
    const presented = new X509Certificate(decodeURIComponent(String(asked.headers['x-client-cert'])));
    expect(presented.fingerprint256).toBe(new X509Certificate(readFileSync(pki('dave.pem'))).fingerprint256);
  });

  it('refuses carol (revoked) with 403', async () => {
    const res = await through('carol', '/app');
    expect(res.status).toBe(403);
  });

  it('sends bob (needs validation) to plusgate /signin with the whole page he asked for, query included', async () => {
    const res = await through('bob', '/app/orders?page=2&sort=date');
    expect(res.status).toBe(302);
    const asked = `https://localhost:${ports.nginx}/app/orders?page=2&sort=date`;
    expect(res.location).toBe(`https://localhost:${ports.gateway}/signin?return=${encodeURIComponent(asked)}`);
  });

  it('brings bob back to the page he asked for once he validated at Identity Plus', async () => {
    // nginx → /signin → Identity Plus sign-on → plusgate /return → the original page through nginx again.
    const res = await through('bob', '/app/after-validation?tab=1&x=2', ['-L']);
    expect(res.status).toBe(200);
    expect(res.effectiveUrl).toBe(`https://localhost:${ports.nginx}/app/after-validation?tab=1&x=2`);
    expect(JSON.parse(res.body)).toMatchObject({
      user: 'org:org-ref-bob-0003',
      path: '/app/after-validation?tab=1&x=2',
    });
  });

  describe("nginx's cache of allows", () => {
    it('serves a repeat request with the same certificate from the cache, without asking plusgate', async () => {
      // erin is asked about here only: her first request must reach plusgate.
      const before = await decisions();
      const first = await throughCache('erin', '/app/one');
      const afterFirst = await decisions();
      const second = await throughCache('erin', '/app/two');
      const afterSecond = await decisions();

      expect([first.status, first.cache]).toEqual([200, 'MISS']);
      expect(afterFirst.total - before.total).toBe(1);
      expect([second.status, second.cache]).toEqual([200, 'HIT']);
      expect(afterSecond.total - afterFirst.total).toBe(0);
      expect(JSON.parse(second.body)).toMatchObject({ user: 'local:erin-local', path: '/app/two' });
    });

    it("never gives erin's cached allow to another certificate: alice is herself, dave (unknown) is refused", async () => {
      await throughCache('erin', '/app');
      const before = await decisions();
      const alice = await throughCache('alice', '/app');
      expect(alice.status).toBe(200);
      expect(JSON.parse(alice.body)).toMatchObject({ user: 'org:org-ref-alice-0001' });
      const dave = await throughCache('dave', '/app'); // a trusted CA, unknown at Identity Plus
      expect([dave.status, dave.cache]).toEqual([403, 'MISS']);
      const after = await decisions();
      expect(after.of('reason="unknown-certificate"') - before.of('reason="unknown-certificate"')).toBe(1);
    });

    it('never serves carol (revoked) from the cache: each request reaches plusgate and is refused', async () => {
      const before = await decisions();
      const first = await throughCache('carol', '/app');
      const second = await throughCache('carol', '/app');
      const after = await decisions();
      expect([first.status, first.cache, second.status, second.cache]).toEqual([403, 'MISS', 403, 'MISS']);
      expect(after.of('reason="revoked"') - before.of('reason="revoked"')).toBe(2);
    });
  });
});
