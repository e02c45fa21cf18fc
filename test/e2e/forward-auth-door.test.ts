/**
 * Local mode's mutual-TLS forward-auth door for proxies (`--forward-auth-port`): only a client certificate
 * from the local proxy CA (`<data dir>/proxy-ca`) gets past the TLS handshake, never a device's; behind it
 * only the `/auth/{dialect}` routes, answered by the verify handler from the certificate in the header.
 * Driven by the real curl, `npm run proxy-cert`, and a real nginx whose `auth_request` reaches the door over
 * https with its own client certificate: the example configuration of examples/nginx/ plus the block below.
 */
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
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
import { nginxMainConfig } from '../support/proxy-harness';

jest.setTimeout(120_000);

const nginxAvailable = spawnSync('nginx', ['-v']).status === 0;
if (!nginxAvailable && process.env.CI)
  throw new Error('nginx is not installed: .ci/run installs it (apt-get install nginx)');
const describeWithNginx = nginxAvailable ? describe : describe.skip;

/**
 * What the example's `/_plusgate_verify` location gains to ask the door instead of the service API: its
 * `proxy_pass {{VERIFY_URL}};` line (then https://<door>/auth/nginx) followed by nginx's own client
 * certificate and the check of plusgate's server certificate. In AWS: {{PLUSGATE_CA}} is the system bundle
 * (e.g. /etc/ssl/certs/ca-certificates.crt) and `proxy_ssl_server_name on` sends the door's name (SNI).
 */
const VERIFY_PROXY_PASS = '        proxy_pass {{VERIFY_URL}};';
const DOOR_BLOCK = `${VERIFY_PROXY_PASS}
        # plusgate's mutual-TLS door for proxies: nginx presents its own certificate (npm run proxy-cert)
        # and checks plusgate's.
        proxy_ssl_certificate         {{PROXY_CERT}};
        proxy_ssl_certificate_key     {{PROXY_KEY}};
        proxy_ssl_trusted_certificate {{PLUSGATE_CA}};
        proxy_ssl_verify              on;
        proxy_ssl_server_name         on;`;

/** The door's log line of a forward-auth allow. */
const ALLOWED_AT_DOOR = /^forward-auth door: GET \/auth\/nginx 200 \d+ms$/;
/** Exit codes of curl for a connection the server ended in or right after the TLS handshake. */
const REFUSED_IN_HANDSHAKE = [35, 52, 56];

let dir: string;
let local: RunningProcess | undefined;
let nginx: ChildProcess | undefined;
let nginxErrors = '';
let upstream: Server | undefined;
let ports: Record<
  'gateway' | 'simulator' | 'dynamodb' | 'service' | 'door' | 'nginx' | 'nginxNoCert' | 'upstream',
  number
>;
const data = (...parts: string[]) => path.join(dir, 'data', ...parts);
const pki = (file: string) => data('pki', file);
const proxyCa = (file: string) => data('proxy-ca', file);
const escaped = (person: string) => encodeURIComponent(readFileSync(pki(`${person}.pem`), 'utf8'));
/** Local mode's log lines of the door. */
const doorLog = () => (local?.output() ?? '').split('\n').filter((line) => line.startsWith('forward-auth door: '));

/** curl to the door as a proxy would ask about `person`, presenting `client` (cert, key) or nothing. */
async function askDoor(
  client: { cert: string; key: string } | undefined,
  person: string,
  route = '/auth/nginx',
): Promise<CurlResult & { headers: string }> {
  const headersFile = path.join(dir, `headers-${Date.now()}-${Math.random()}`);
  const res = await curl([
    '--cacert',
    pki('ca.pem'),
    ...(client ? ['--cert', client.cert, '--key', client.key] : []),
    '-D',
    headersFile,
    '-H',
    `X-Client-Cert: ${escaped(person)}`,
    `https://localhost:${ports.door}${route}`,
  ]);
  let headers = '';
  try {
    headers = readFileSync(headersFile, 'utf8');
  } catch {
    /* no answer */
  }
  return { ...res, headers };
}

/** The door's log lines from index `from` on, once one matches `pattern` (its line follows the answer). */
async function doorLogAfter(from: number, pattern: RegExp): Promise<string> {
  for (
    let i = 0;
    i < 40 &&
    !doorLog()
      .slice(from)
      .some((line) => pattern.test(line));
    i++
  ) {
    await new Promise((r) => setTimeout(r, 50));
  }
  return doorLog().slice(from).join('\n');
}

const header = (headers: string, name: string) =>
  new RegExp(`^${name}:\\s*(.*?)\\s*$`, 'im').exec(headers)?.[1] ?? undefined;
const localProxy = () => ({ cert: proxyCa('local-proxy.pem'), key: proxyCa('local-proxy.key') });

/** `npm run proxy-cert -- <args>`, its exit status and output. */
function proxyCert(args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile('npm', ['run', '--silent', 'proxy-cert', '--', ...args], { cwd: REPO_ROOT }, (error, stdout, stderr) =>
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, output: stdout + stderr }),
    );
  });
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'plusgate-door-'));
  const [gateway, simulator, dynamodb, service, door, nginxPort, nginxNoCert, upstreamPort] = await freePorts(8);
  ports = { gateway, simulator, dynamodb, service, door, nginx: nginxPort, nginxNoCert, upstream: upstreamPort };
  local = await startNpm(
    [
      ...localModeArgs(data(), { gateway, simulator, dynamodb, service }),
      '--forward-auth-port',
      String(door),
      '--allowed-return-origins',
      `https://localhost:${nginxPort}`,
    ],
    'plusgate local ready',
  );
});

afterAll(async () => {
  await local?.interrupt();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('local mode --forward-auth-port: the mutual-TLS door for proxies', () => {
  it("prints the door's URL and the proxy certificate to present, made on first start with mode 0600", () => {
    const output = local!.output();
    expect(output).toMatch(new RegExp(`forward-auth door +https://localhost:${ports.door} +routes: ANY /auth/`));
    expect(output).toContain(`proxy certificate      ${proxyCa('local-proxy.pem')}  key ${proxyCa('local-proxy.key')}`);
    for (const file of ['proxy-ca.pem', 'proxy-ca.key', 'truststore.pem', 'local-proxy.pem', 'local-proxy.key']) {
      expect([file, statSync(proxyCa(file)).mode & 0o777]).toEqual([file, 0o600]);
    }
    // A CA of its own, not the device CA.
    const proxyRoot = new X509Certificate(readFileSync(proxyCa('truststore.pem')));
    const deviceRoot = new X509Certificate(readFileSync(pki('root-ca.pem')));
    expect(proxyRoot.fingerprint256).not.toBe(deviceRoot.fingerprint256);
  });

  it("answers a proxy presenting the local proxy certificate: alice's certificate in X-Client-Cert is allowed, with her identity", async () => {
    const before = doorLog().length;
    const res = await askDoor(localProxy(), 'alice');
    expect([res.exitCode, res.status]).toEqual([0, 200]);
    expect(header(res.headers, 'x-plusgate-decision')).toBe('allow');
    expect(header(res.headers, 'x-plusgate-user')).toBe('org:org-ref-alice-0001');
    expect(header(res.headers, 'x-plusgate-serial')).toBe(
      BigInt(`0x${new X509Certificate(readFileSync(pki('alice.pem'))).serialNumber}`).toString(),
    );
    expect(await doorLogAfter(before, ALLOWED_AT_DOOR)).toMatch(ALLOWED_AT_DOOR);
  });

  it('decides about the certificate in the header, not the proxy’s own: carol is refused, bob sent to sign in', async () => {
    const carol = await askDoor(localProxy(), 'carol');
    expect(carol.status).toBe(403);
    expect(header(carol.headers, 'x-plusgate-reason')).toBe('revoked');
    const bob = await askDoor(localProxy(), 'bob');
    expect(bob.status).toBe(401);
    expect(header(bob.headers, 'x-plusgate-signin')).toMatch(new RegExp(`^https://localhost:${ports.gateway}/signin`));
    // Traefik's, Caddy's and Envoy's routes are behind the same door.
    const caddy = await curl([
      '--cacert',
      pki('ca.pem'),
      '--cert',
      localProxy().cert,
      '--key',
      localProxy().key,
      '-H',
      `X-Client-Cert: ${new X509Certificate(readFileSync(pki('alice.pem'))).raw.toString('base64')}`,
      `https://localhost:${ports.door}/auth/caddy`,
    ]);
    expect(caddy.status).toBe(200);
  });

  it('refuses a connection without a client certificate in the TLS handshake', async () => {
    const before = doorLog().length;
    const res = await askDoor(undefined, 'alice');
    expect(res.status).toBe(0);
    expect(REFUSED_IN_HANDSHAKE).toContain(res.exitCode);
    expect(await doorLogAfter(before, /TLS handshake refused/)).toMatch(/TLS handshake refused/);
  });

  it.each(['alice', 'erin', 'mallory'])(
    "refuses %s's device certificate as the client certificate in the TLS handshake",
    async (person) => {
      const before = doorLog().length;
      const res = await askDoor({ cert: pki(`${person}.pem`), key: pki(`${person}.key`) }, 'alice');
      expect(res.status).toBe(0);
      expect(REFUSED_IN_HANDSHAKE).toContain(res.exitCode);
      const untrusted = /TLS handshake refused .*(UNABLE_TO_GET_ISSUER_CERT|UNABLE_TO_VERIFY_LEAF_SIGNATURE)/;
      expect(await doorLogAfter(before, untrusted)).toMatch(untrusted);
    },
  );

  it('admits a proxy certificate npm run proxy-cert issues from the data folder’s CA, and none from another proxy CA', async () => {
    const issued = await proxyCert(['--out', data('proxy-ca'), '--name', 'e2e-nginx', '--days', '30']);
    expect(issued).toMatchObject({ code: 0 });
    expect(issued.output).toContain('proxy CA: reused');
    const admitted = await askDoor({ cert: proxyCa('e2e-nginx.pem'), key: proxyCa('e2e-nginx.key') }, 'alice');
    expect(admitted.status).toBe(200);

    const other = path.join(dir, 'other-proxy-ca');
    expect((await proxyCert(['--out', other, '--name', 'stranger'])).code).toBe(0);
    const stranger = await askDoor(
      { cert: path.join(other, 'stranger.pem'), key: path.join(other, 'stranger.key') },
      'alice',
    );
    expect(stranger.status).toBe(0);
    expect(REFUSED_IN_HANDSHAKE).toContain(stranger.exitCode);
  });

  it('serves the forward-auth routes only', async () => {
    for (const route of ['/verify', '/signin', '/report', '/metrics', '/auth']) {
      const res = await askDoor(localProxy(), 'alice', route);
      expect([route, res.status]).toEqual([route, 403]);
      expect(res.body).toContain('Missing Authentication Token');
    }
  });
});

/** The example with its placeholders filled, asking the door; a second server without nginx's certificate. */
function nginxConfig(): string {
  const example = readFileSync(path.join(REPO_ROOT, 'examples', 'nginx', 'plusgate-forward-auth.conf'), 'utf8');
  expect(example.split('\n').filter((line) => line === VERIFY_PROXY_PASS)).toHaveLength(1);
  const fill = (text: string, listen: number) =>
    text
      .replace(VERIFY_PROXY_PASS, DOOR_BLOCK)
      .replaceAll('{{LISTEN}}', `127.0.0.1:${listen}`)
      .replaceAll('{{SERVER_CERT}}', pki('server.pem'))
      .replaceAll('{{SERVER_KEY}}', pki('server.key'))
      .replaceAll('{{CLIENT_CA}}', pki('ca.pem'))
      .replaceAll('{{VERIFY_URL}}', `https://localhost:${ports.door}/auth/nginx`)
      .replaceAll('{{PROXY_CERT}}', proxyCa('local-proxy.pem'))
      .replaceAll('{{PROXY_KEY}}', proxyCa('local-proxy.key'))
      .replaceAll('{{PLUSGATE_CA}}', pki('ca.pem'))
      .replaceAll('{{PUBLIC_ORIGIN}}', `https://localhost:${ports.nginx}`)
      .replaceAll('{{UPSTREAM}}', `http://127.0.0.1:${ports.upstream}`)
      .replaceAll('{{CACHE_DIR}}', path.join(dir, 'nginx', 'plusgate-cache'));
  const withCert = fill(example, ports.nginx);
  // The same server block without nginx's own certificate (and without the cache, so each request asks).
  // Both servers name the same door, so nginx shares one upstream and would resume the TLS session the
  // first one opened with its certificate (the door admits a resumed session of a proxy it admitted): this
  // one starts each session anew, as a proxy without a certificate would.
  const withoutCert = fill(example.slice(example.indexOf('\nserver {')), ports.nginxNoCert)
    .split('\n')
    .filter((line) => !/^\s*(proxy_ssl_certificate|proxy_ssl_certificate_key|proxy_cache)\s/.test(line))
    .join('\n')
    .replace(
      'proxy_ssl_server_name         on;',
      'proxy_ssl_server_name         on;\n        proxy_ssl_session_reuse       off;',
    );
  for (const text of [withCert, withoutCert]) {
    const directives = text.split('\n').filter((line) => !line.trim().startsWith('#'));
    expect(directives.join('\n')).not.toMatch(/\{\{/);
  }
  const active = (text: string) =>
    text
      .split('\n')
      .filter((line) => !line.trim().startsWith('#'))
      .join('\n');
  expect(active(withoutCert)).not.toMatch(/proxy_ssl_certificate/);
  return nginxMainConfig(path.join(dir, 'nginx'), [withCert, withoutCert]);
}

/** curl to nginx (`port`) as a demo person. */
function throughNginx(person: string, route: string, port = ports.nginx): Promise<CurlResult> {
  return curl([
    '--cacert',
    pki('ca.pem'),
    '--cert',
    pki(`${person}.pem`),
    '--key',
    pki(`${person}.key`),
    `https://localhost:${port}${route}`,
  ]);
}

describeWithNginx('nginx asking plusgate through the door, with its own client certificate', () => {
  beforeAll(async () => {
    upstream = createServer((req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ path: req.url, user: req.headers['x-plusgate-user'] ?? null }));
    });
    await new Promise<void>((resolve) => upstream!.listen(ports.upstream, '127.0.0.1', resolve));

    const temp = path.join(dir, 'nginx');
    mkdirSync(temp, { recursive: true });
    writeFileSync(path.join(temp, 'nginx.conf'), nginxConfig());
    const check = spawnSync('nginx', ['-t', '-p', temp, '-c', path.join(temp, 'nginx.conf')], { encoding: 'utf8' });
    expect(check.stderr).toContain('test is successful');
    nginx = spawn('nginx', ['-p', temp, '-c', path.join(temp, 'nginx.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
    nginx.stderr?.on('data', (d: Buffer) => (nginxErrors += d.toString()));
    // Ready when it answers a TLS handshake; asked as dave (unknown, never cached), so that nginx's cache holds
    // no allow for alice and her first request below reaches the door.
    for (let i = 0; i < 50; i++) {
      if ((await throughNginx('dave', '/health')).status > 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  afterAll(async () => {
    nginx?.kill('SIGQUIT');
    await new Promise((resolve) => (upstream ? upstream.close(resolve) : resolve(undefined)));
  });

  it('lets alice through to the application, which sees who she is: asked at the door, over mutual TLS', async () => {
    const before = doorLog().length;
    const res = await throughNginx('alice', `/app/orders?door=${Date.now()}`);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({ user: 'org:org-ref-alice-0001' });
    expect(await doorLogAfter(before, ALLOWED_AT_DOOR)).toMatch(ALLOWED_AT_DOOR);
  });

  it('refuses carol (revoked) with 403 and sends bob (needs validation) to plusgate /signin', async () => {
    expect((await throughNginx('carol', '/app')).status).toBe(403);
    const bob = await throughNginx('bob', '/app/orders?page=2');
    expect(bob.status).toBe(302);
    expect(bob.location).toBe(
      `https://localhost:${ports.gateway}/signin?return=${encodeURIComponent(`https://localhost:${ports.nginx}/app/orders?page=2`)}`,
    );
  });

  it('fails closed when nginx presents no certificate of its own: the door refuses it in the handshake, alice gets 500', async () => {
    const before = doorLog().length;
    const res = await throughNginx('alice', '/app', ports.nginxNoCert);
    expect(res.status).toBe(500);
    expect(await doorLogAfter(before, /TLS handshake refused/)).toMatch(/TLS handshake refused/);
    expect(nginxErrors).toMatch(/certificate required|SSL_do_handshake|SSL_read|upstream/i);
  });
});
