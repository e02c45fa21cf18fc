/**
 * A real Caddy in the loop: Caddy (Debian's package) terminates mutual TLS with the dev CA and asks local
 * mode's forward-auth in the Caddy dialect (`/auth/caddy`) about every request, using the example
 * configuration shipped in examples/caddy/. Between Caddy and plusgate sits a recording hop, where the
 * SigV4-signing proxy sits in AWS: it passes every request on unchanged and keeps what Caddy sent.
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
import { type HopRequest, startEchoApp, startRecordingHop } from '../support/proxy-harness';

jest.setTimeout(120_000);

const caddyAvailable = spawnSync('caddy', ['version']).status === 0;
if (!caddyAvailable && process.env.CI)
  throw new Error('caddy is not installed: .ci/run installs it (apt-get install caddy)');
const describeWithCaddy = caddyAvailable ? describe : describe.skip;
const title = caddyAvailable
  ? 'Caddy forward-auth against local mode'
  : 'Caddy forward-auth against local mode (SKIPPED: caddy is not installed; apt-get install caddy)';

let dir: string;
let local: RunningProcess | undefined;
let caddy: ChildProcess | undefined;
let caddyLog = '';
let upstream: Server | undefined;
let authHop: Server | undefined;
let ports: Record<'gateway' | 'simulator' | 'dynamodb' | 'service' | 'caddy' | 'upstream' | 'authHop', number>;
const pki = (file: string) => path.join(dir, 'data', 'pki', file);
const origin = () => `https://localhost:${ports.caddy}`;
/** Every request Caddy sent towards plusgate, as the recording hop saw it. */
const authRequests: HopRequest[] = [];
/** Every request that reached the application. */
const appRequests: string[] = [];

/** A demo person's certificate as Caddy sends it (`{http.request.tls.client.certificate_der_base64}`). */
function derBase64(person: string): string {
  return new X509Certificate(readFileSync(pki(`${person}.pem`))).raw.toString('base64');
}

/** curl to Caddy as a demo person (or with no certificate: `null`). */
function through(person: string | null, route: string, extra: string[] = []): Promise<CurlResult> {
  const identity = person ? ['--cert', pki(`${person}.pem`), '--key', pki(`${person}.key`)] : [];
  return curl(['--cacert', pki('ca.pem'), ...identity, ...extra, `${origin()}${route}`]);
}

/** The request Caddy sent plusgate for the page `route` (found by its X-Forwarded-Uri). */
function askedFor(route: string) {
  return only(
    authRequests.filter((r) => r.headers['x-forwarded-uri'] === route),
    `request to plusgate for ${route}`,
  );
}

/** The example Caddyfile with its placeholders filled. */
function caddyfile(): string {
  const text = readFileSync(path.join(REPO_ROOT, 'examples', 'caddy', 'Caddyfile'), 'utf8')
    .replaceAll('{{SITE_ADDRESS}}', origin())
    .replaceAll('{{BIND}}', '127.0.0.1')
    .replaceAll('{{SERVER_CERT}}', pki('server.pem'))
    .replaceAll('{{SERVER_KEY}}', pki('server.key'))
    .replaceAll('{{CLIENT_CA_ROOT}}', pki('root-ca.pem'))
    .replaceAll('{{CLIENT_CA_INTERMEDIATE}}', pki('intermediate-ca.pem'))
    .replaceAll('{{PLUSGATE_SERVICE}}', `http://127.0.0.1:${ports.authHop}`)
    .replaceAll('{{AUTH_PATH}}', '/auth/caddy')
    .replaceAll('{{UPSTREAM}}', `http://127.0.0.1:${ports.upstream}`);
  const directives = text.split('\n').filter((line) => !line.trim().startsWith('#'));
  expect(directives.join('\n')).not.toMatch(/\{\{/);
  return text;
}

/** Caddy's environment: its config autosave and data (locks, instance id) go to the test's folder only. */
function caddyEnv(): NodeJS.ProcessEnv {
  const home = path.join(dir, 'caddy', 'home');
  return {
    ...process.env,
    HOME: home,
    XDG_CONFIG_HOME: path.join(home, 'config'),
    XDG_DATA_HOME: path.join(home, 'data'),
  };
}

describeWithCaddy(title, () => {
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'plusgate-caddy-'));
    const [gateway, simulator, dynamodb, service, caddyPort, upstreamPort, hopPort] = await freePorts(7);
    ports = { gateway, simulator, dynamodb, service, caddy: caddyPort, upstream: upstreamPort, authHop: hopPort };

    // The application behind Caddy: echoes what it was told about the caller, and every other header that
    // looks like plusgate's or the certificate's (underscore spellings included) that reached it.
    upstream = await startEchoApp(
      ports.upstream,
      (name) => /plusgate/.test(name) || /^x[-_]client[-_]cert$/.test(name),
      (url) => appRequests.push(url),
    );

    // The hop between Caddy and plusgate (the SigV4-signing proxy's place in AWS): records, then passes on.
    authHop = await startRecordingHop(ports.authHop, ports.service, authRequests);

    local = await startNpm(
      [
        ...localModeArgs(path.join(dir, 'data'), { gateway, simulator, dynamodb, service }),
        '--allowed-return-origins',
        origin(),
        '--quiet',
      ],
      'plusgate local ready',
    );

    const temp = path.join(dir, 'caddy');
    mkdirSync(path.join(temp, 'home'), { recursive: true });
    const config = path.join(temp, 'Caddyfile');
    writeFileSync(config, caddyfile());
    const args = ['--config', config, '--adapter', 'caddyfile'];
    const validate = spawnSync('caddy', ['validate', ...args], { cwd: temp, env: caddyEnv(), encoding: 'utf8' });
    expect(`${validate.stdout}${validate.stderr}`).toContain('Valid configuration');
    expect(validate.status).toBe(0);

    caddy = spawn('caddy', ['run', ...args], { cwd: temp, env: caddyEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    caddy.stdout?.on('data', (d: Buffer) => (caddyLog += d.toString()));
    caddy.stderr?.on('data', (d: Buffer) => (caddyLog += d.toString()));
    // Ready once it has applied the configuration (it logs this after its listeners are up).
    for (let i = 0; i < 100 && !caddyLog.includes('serving initial configuration'); i++) {
      if (caddy.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    if (!caddyLog.includes('serving initial configuration')) throw new Error(`caddy did not start:\n${caddyLog}`);
  });

  afterAll(async () => {
    if (caddy && caddy.exitCode === null) {
      const exited = new Promise((resolve) => caddy!.once('exit', resolve));
      caddy.kill('SIGTERM');
      await exited;
    }
    await local?.interrupt();
    await new Promise((resolve) => (upstream ? upstream.close(resolve) : resolve(undefined)));
    await new Promise((resolve) => (authHop ? authHop.close(resolve) : resolve(undefined)));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('runs the example as shipped: valid, formatted as `caddy fmt` writes it, no admin endpoint', () => {
    const config = path.join(dir, 'caddy', 'Caddyfile');
    const formatted = spawnSync('caddy', ['fmt', config], { env: caddyEnv(), encoding: 'utf8' });
    expect(formatted.status).toBe(0);
    expect(formatted.stdout).toBe(readFileSync(config, 'utf8'));
    expect(caddyLog).toContain('admin endpoint disabled');
    expect(caddyLog).toContain('enabling strict SNI-Host enforcement because TLS client auth is configured');
  });

  it('lets alice through to the application, which sees who she is', async () => {
    const res = await through('alice', '/app/orders?page=2');
    expect(res.status).toBe(200);
    const alice = new X509Certificate(readFileSync(pki('alice.pem')));
    expect(JSON.parse(res.body)).toEqual({
      path: '/app/orders?page=2',
      method: 'GET',
      user: 'org:org-ref-alice-0001',
      roles: 'member',
      serial: BigInt(`0x${alice.serialNumber}`).toString(),
      passedOn: [],
    });
  });

  it('asks plusgate with GET, without a body, even when the application request is a POST with one', async () => {
    const res = await through('alice', '/app/post', [
      '-X',
      'POST',
      '-H',
      'content-type: application/json',
      '--data',
      '{"item":1}',
    ]);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({ method: 'POST', user: 'org:org-ref-alice-0001' });
    const asked = askedFor('/app/post');
    expect([asked.method, asked.url, asked.bodyBytes, asked.headers['x-forwarded-method']]).toEqual([
      'GET',
      '/auth/caddy',
      0,
      'POST',
    ]);
  });

  it('gives the application only the identity plusgate answered for the verified certificate, whatever the client sent', async () => {
    // alice forges every identity header, in both spellings, and carol's (revoked) certificate: had plusgate
    // decided on the forged certificate, this would be a 403.
    const forged = [
      'X-Plusgate-User: mallory',
      'X-Plusgate-Roles: org. administrator',
      'X-Plusgate-Serial: 1',
      'X-Plusgate-Decision: allow',
      'X-Plusgate-Admin: true',
      'X_Plusgate_User: mallory',
      'X_Plusgate_Admin: true',
      `X-Client-Cert: ${derBase64('carol')}`,
      `X_Client_Cert: ${derBase64('carol')}`,
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
    const asked = askedFor('/app/forged');
    expect(asked.headers['x-client-cert']).toBe(derBase64('alice'));
    expect(Object.keys(asked.headers).filter((name) => /plusgate|client[-_]cert/.test(name))).toEqual([
      'x-client-cert',
    ]);
  });

  it("decides on the certificate Caddy verified, never on a client's X-Client-Cert", async () => {
    // dave (a trusted CA, unknown at Identity Plus) sends alice's certificate as X-Client-Cert.
    const res = await through('dave', '/app/dave-as-alice', ['-H', `X-Client-Cert: ${derBase64('alice')}`]);
    expect(res.status).toBe(403);
    expect(askedFor('/app/dave-as-alice').headers['x-client-cert']).toBe(derBase64('dave'));
    expect(appRequests).not.toContain('/app/dave-as-alice');
  });

  it("sends plusgate what Caddy knows, none of the client's credentials, and not the client's X-Forwarded-*", async () => {
    const route = '/app/what-plusgate-gets?x=1';
    const sent = [
      'Cookie: session=secret',
      'Authorization: Bearer secret',
      'Proxy-Authorization: Basic c2VjcmV0',
      'X-Amz-Security-Token: forged',
      'X-Amz-Date: 20260101T000000Z',
      'X-Forwarded-Host: evil.example',
      'X-Forwarded-Proto: http',
      'X-Forwarded-Uri: /evil',
      'X-Forwarded-Method: DELETE',
    ];
    const res = await through('dave', route, [...sent.flatMap((h) => ['-H', h]), '--data', 'password=secret']);
    expect(res.status).toBe(403);
    const asked = askedFor(route);
    // The client's query string stays out of the URL plusgate is called with ("uri /auth/caddy?").
    expect([asked.method, asked.url, asked.bodyBytes]).toEqual(['GET', '/auth/caddy', 0]);
    expect(asked.headers).toMatchObject({
      host: `127.0.0.1:${ports.authHop}`,
      'x-client-cert': derBase64('dave'),
      'x-forwarded-proto': 'https',
      'x-forwarded-host': `localhost:${ports.caddy}`,
      'x-forwarded-uri': route,
      'x-forwarded-method': 'POST',
    });
    for (const name of ['cookie', 'authorization', 'proxy-authorization', 'x-amz-security-token', 'x-amz-date'])
      expect(asked.headers).not.toHaveProperty(name);
  });

  it('refuses carol (revoked) with 403', async () => {
    const res = await through('carol', '/app/carol');
    expect(res.status).toBe(403);
    expect(appRequests).not.toContain('/app/carol');
  });

  it("sends bob (needs validation) to plusgate's /signin with the whole page he asked for, query included", async () => {
    // A forged X-Forwarded-Host does not move the way back: Caddy sets its own.
    const res = await through('bob', '/orders?page=2&sort=date', ['-H', 'X-Forwarded-Host: evil.example']);
    expect(res.status).toBe(302);
    const signin = new URL(res.location);
    expect([signin.origin, signin.pathname, [...signin.searchParams.keys()]]).toEqual([
      `https://localhost:${ports.gateway}`,
      '/signin',
      ['return'],
    ]);
    expect(signin.searchParams.get('return')).toBe(`${origin()}/orders?page=2&sort=date`);
    expect(appRequests).not.toContain('/orders?page=2&sort=date');
  });

  it('brings bob back to the page he asked for once he validated at Identity Plus', async () => {
    // Caddy → plusgate /signin → Identity Plus sign-on → plusgate /return → the original page through Caddy.
    const res = await through('bob', '/orders?page=2&sort=date', ['-L']);
    expect(res.status).toBe(200);
    expect(res.redirects).toBe(4);
    expect(res.effectiveUrl).toBe(`${origin()}/orders?page=2&sort=date`);
    expect(JSON.parse(res.body)).toMatchObject({
      user: 'org:org-ref-bob-0003',
      path: '/orders?page=2&sort=date',
      passedOn: [],
    });
  });

  it.each([
    ['no certificate', null],
    ['mallory (a CA nothing trusts)', 'mallory'],
    ['frank (expired)', 'frank'],
  ])('refuses %s in the TLS handshake: nothing reaches plusgate or the application', async (_, person) => {
    const route = `/app/refused-${person ?? 'nobody'}`;
    const res = await through(person, route);
    expect(res.status).toBe(0);
    // 35: handshake failed; 52/55/56: the server closed the connection (how TLS 1.3 reports a refused
    // certificate: the client learns it only when it sends or reads).
    expect([35, 52, 55, 56]).toContain(res.exitCode);
    expect(authRequests.filter((r) => r.headers['x-forwarded-uri'] === route)).toEqual([]);
    expect(appRequests).not.toContain(route);
  });

  it('answers 421 to a handshake that names no host (no client certificate asked): nothing reaches plusgate or the application', async () => {
    // curl sends no SNI to an IP address; the Host header still names the site.
    const route = '/app/no-sni';
    const res = await curl([
      '--cacert',
      pki('ca.pem'),
      '-H',
      `Host: localhost:${ports.caddy}`,
      `https://127.0.0.1:${ports.caddy}${route}`,
    ]);
    expect(res.status).toBe(421);
    expect(authRequests.filter((r) => r.headers['x-forwarded-uri'] === route)).toEqual([]);
    expect(appRequests).not.toContain(route);
  });
});
