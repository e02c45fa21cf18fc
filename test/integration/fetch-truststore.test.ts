/**
 * `npm run fetch-truststore` over real mutual TLS on loopback: a small https server with the dev PKI stands in
 * for `platform.identity.plus/download/trust-chain` (our API certificate gets the chain, other client
 * certificates 403) and also answers hostile things: a leaf in the chain, an incomplete chain, chains without a
 * root, a private key, garbage, 403/500, redirects, huge and slow answers, a server certificate from an
 * untrusted CA, a server that refuses our certificate. Only a chain the synth would accept is written
 * (atomically, 0644, never through a symlink, never over a file without --force); the entry's exit statuses.
 */
import 'reflect-metadata';
import { execFile } from 'node:child_process';
import { X509Certificate, webcrypto } from 'node:crypto';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server } from 'node:https';
import { type AddressInfo, createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { TLSSocket } from 'node:tls';
import * as x509 from '@peculiar/x509';
import {
  FETCH_LIMITS,
  type FetchTruststoreArgs,
  parseFetchTruststoreArgs,
  runFetchTruststore,
} from '../../cli/fetch-truststore';
import { type DevPki, type KeyPair, issueCertificate } from '../../local/dev-pki';
import { writeDevPki } from '../../local/dev-pki-files';
import { IdentityPlusSimulator } from '../../local/identity-plus-simulator';
import { parseTruststore } from '../../lib/truststore-pem';
import { freePorts } from '../support/processes';
import { testPki } from '../support/test-pki';

jest.setTimeout(60_000);

type CryptoKeyPair = webcrypto.CryptoKeyPair;

const REPO_ROOT = path.resolve(__dirname, '../..');
const PASSWORD_VAR = 'FETCH_TRUSTSTORE_TEST_P12_PASSWORD';

let pki: DevPki;
let dir: string;
let server: Server;
let origin: string;
let requests: Array<{ path: string; serial?: string }>;
/** PEM the /cycle route serves: two CAs that issued each other, no root. */
let cycle: string;

/** Files of the test: the CA chain to trust the server, our API certificate as PEM and PKCS#12. */
const files = () => ({
  ca: path.join(dir, 'dev-ca.pem'),
  cert: path.join(dir, 'api.pem'),
  key: path.join(dir, 'api.key'),
  p12: path.join(dir, 'api.p12'),
  out: path.join(dir, 'out', 'truststore.pem'),
});

function route(req: IncomingMessage, res: ServerResponse): void {
  const socket = req.socket as TLSSocket;
  const peer = socket.getPeerCertificate();
  const serial = peer?.serialNumber ? BigInt(`0x${peer.serialNumber}`).toString(10) : undefined;
  const url = new URL(req.url ?? '/', 'https://x');
  requests.push({ path: `${url.pathname}${url.search}`, serial });
  if (serial !== pki.api.serial) {
    res.writeHead(403, { 'content-type': 'text/plain' });
    res.end('not an agent certificate');
    return;
  }
  const pemBodies: Record<string, () => string> = {
    '/leaf': () => pki.caChain + pki.devices.alice.cert,
    '/incomplete': () => pki.intermediate.cert,
    '/cycle': () => cycle,
    '/private-key': () => pki.caChain + pki.intermediate.key,
    '/garbage': () => '<html><body>Welcome to Identity Plus</body></html>',
  };
  if (url.pathname === '/download/trust-chain' && url.searchParams.get('format') === 'pem') {
    // Text around the certificates (as openssl writes it) is dropped by the check.
    pemBodies[url.pathname] = () => `subject=dev root and intermediate\n${pki.caChain}`;
  }
  const body = pemBodies[url.pathname];
  if (body) {
    res.writeHead(200, { 'content-type': 'application/x-pem-file' });
    res.end(body());
    return;
  }
  switch (url.pathname) {
    case '/download/trust-chain':
      res.writeHead(400).end('format');
      return;
    case '/403':
      res.writeHead(403).end('forbidden');
      return;
    case '/500':
      res.writeHead(500).end('internal error\u001b[31m');
      return;
    case '/redirect':
      res.writeHead(302, { location: 'https://elsewhere.example/chain.pem' }).end();
      return;
    case '/huge':
      res.writeHead(200, { 'content-length': String(FETCH_LIMITS.maxAnswerBytes + 1) });
      res.end(Buffer.alloc(FETCH_LIMITS.maxAnswerBytes + 1, 65));
      return;
    case '/huge-chunked': {
      res.writeHead(200); // no length: counted while read
      const chunk = pki.caChain.repeat(64);
      for (let sent = 0; sent <= FETCH_LIMITS.maxAnswerBytes; sent += chunk.length) res.write(chunk);
      res.end();
      return;
    }
    case '/slow':
      res.writeHead(200);
      res.write('-----BEGIN CERTIFICATE-----\n'); // and nothing more
      return;
    default:
      res.writeHead(404).end();
  }
}

/** An https server with mutual TLS against the dev CA (or `clientCa`), presenting `cert`. */
async function startServer(cert: KeyPair, clientCa: string, handler = route): Promise<{ server: Server; url: string }> {
  const s = createHttpsServer(
    { cert: cert.cert, key: cert.key, ca: clientCa, requestCert: true, rejectUnauthorized: true },
    handler,
  );
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  return { server: s, url: `https://127.0.0.1:${(s.address() as AddressInfo).port}` };
}

const close = (s: Server | TcpServer) =>
  new Promise<void>((resolve) => {
    (s as Server).closeAllConnections?.();
    s.close(() => resolve());
  });

/** Runs the CLI's run half with the command line `argv`; its status and what it printed. */
async function run(
  argv: string[],
  options: { env?: Record<string, string>; limits?: typeof FETCH_LIMITS; localUrl?: string } = {},
) {
  const env = options.env ?? {};
  const args: FetchTruststoreArgs = parseFetchTruststoreArgs(argv, env);
  let stdout = '';
  let stderr = '';
  const code = await runFetchTruststore(args, {
    stdout: { write: (t: string) => (stdout += t) },
    stderr: { write: (t: string) => (stderr += t) },
    now: () => new Date(),
    env,
    readPassword: async () => {
      throw new Error('no prompt expected in this test');
    },
    cwd: dir,
    ...(options.limits ? { limits: options.limits } : {}),
    ...(options.localUrl ? { localUrl: options.localUrl } : {}),
  });
  return { code, stdout, stderr };
}

const pemArgs = (urlPath: string, ...more: string[]) => {
  const f = files();
  return [
    '--cert',
    f.cert,
    '--key',
    f.key,
    '--extra-ca',
    f.ca,
    '--url',
    `${origin}${urlPath}`,
    '--out',
    f.out,
    ...more,
  ];
};
const CHAIN = '/download/trust-chain?format=pem';
const mode = (file: string) => (statSync(file).mode & 0o777).toString(8);

/** Two RSA CAs, each issued by the other: complete chains, but no root. */
async function crossSignedPair(): Promise<string> {
  const alg = {
    name: 'RSASSA-PKCS1-v1_5',
    hash: 'SHA-256',
    publicExponent: new Uint8Array([1, 0, 1]),
    modulusLength: 2048,
  };
  const [a, b] = await Promise.all([
    webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']),
    webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']),
  ]);
  const make = (subject: string, issuer: string, keys: CryptoKeyPair, signer: CryptoKeyPair) =>
    x509.X509CertificateGenerator.create({
      serialNumber: '01',
      subject,
      issuer,
      notBefore: new Date(Date.now() - 86_400_000),
      notAfter: new Date(Date.now() + 86_400_000),
      publicKey: keys.publicKey,
      signingKey: signer.privateKey,
      signingAlgorithm: alg,
      extensions: [new x509.BasicConstraintsExtension(true, 1, true)],
    });
  const certA = await make('CN=Cycle A', 'CN=Cycle B', a as CryptoKeyPair, b as CryptoKeyPair);
  const certB = await make('CN=Cycle B', 'CN=Cycle A', b as CryptoKeyPair, a as CryptoKeyPair);
  return `${certA.toString('pem')}\n${certB.toString('pem')}\n`;
}

beforeAll(async () => {
  pki = await testPki();
  cycle = await crossSignedPair();
  ({ server, url: origin } = await startServer(pki.server, pki.caChain));
});
afterAll(() => close(server));

beforeEach(() => {
  requests = [];
  dir = mkdtempSync(path.join(tmpdir(), 'plusgate-fetch-truststore-'));
  const f = files();
  writeFileSync(f.ca, pki.caChain);
  writeFileSync(f.cert, pki.api.cert);
  writeFileSync(f.key, pki.api.key, { mode: 0o600 });
  writeFileSync(f.p12, pki.api.p12, { mode: 0o600 });
  mkdirSync(path.dirname(f.out));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Nothing but the inputs in the folder: no truststore, no temporary file left behind. */
const nothingWritten = () => expect(readdirSync(path.dirname(files().out))).toEqual([]);

describe('npm run fetch-truststore against a mutual-TLS trust-chain server', () => {
  it('downloads the chain with the API certificate (PEM), checks it, writes it 0644 and prints the summary', async () => {
    const result = await run(pemArgs(CHAIN));
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(requests).toEqual([{ path: CHAIN, serial: pki.api.serial }]);
    const written = readFileSync(files().out, 'utf8');
    // Exactly the synth's normalised truststore: the certificates, without the text around them.
    const check = parseTruststore(pki.caChain, 'x');
    expect(check.ok && written === check.truststore.pem).toBe(true);
    expect(written).not.toContain('subject=');
    expect(mode(files().out)).toBe('644');
    expect(lstatSync(files().out).isFile()).toBe(true);
    for (const pem of [pki.root.cert, pki.intermediate.cert]) {
      const cert = new X509Certificate(pem);
      expect(result.stdout).toContain(cert.fingerprint256);
      expect(result.stdout).toContain(new Date(cert.validTo).toISOString());
    }
    expect(result.stdout).toContain('subject:   O=plusgate dev, CN=plusgate dev Identity Plus Root CA  (root)');
    expect(result.stdout).toContain('issuer:    O=plusgate dev, CN=plusgate dev Identity Plus Root CA');
    expect(result.stdout).toContain(`wrote ${path.join('out', 'truststore.pem')} (mode 0644)`);
    expect(result.stdout).toContain(`"truststorePath": "${path.join('out', 'truststore.pem')}"`);
    expect(readdirSync(path.dirname(files().out))).toEqual(['truststore.pem']);
  });

  it('opens a PKCS#12 with the password from --password-env, and never prints the password', async () => {
    const f = files();
    const argv = ['--p12', f.p12, '--password-env', PASSWORD_VAR, '--extra-ca', f.ca, '--url', `${origin}${CHAIN}`];
    const ok = await run([...argv, '--out', f.out], { env: { [PASSWORD_VAR]: pki.api.p12Password } });
    expect(ok).toMatchObject({ code: 0, stderr: '' });
    expect(requests).toEqual([{ path: CHAIN, serial: pki.api.serial }]);

    const wrong = await run([...argv, '--out', `${f.out}.2`], { env: { [PASSWORD_VAR]: 'Wr0ng-secret-Pa55' } });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/^fetch-truststore: --p12 .*the password does not open it/);
    expect(wrong.stderr + wrong.stdout).not.toContain('Wr0ng-secret-Pa55');
    expect(wrong.stderr.trim().split('\n')).toHaveLength(1);
    expect(requests).toHaveLength(1);
  });

  it.each([
    ['a leaf certificate in the chain', '/leaf', /is not a CA certificate/],
    ['an incomplete chain (intermediate only)', '/incomplete', /which is not in the file; include the whole chain/],
    ['CAs that issued each other, no root', '/cycle', /holds no root \(self-signed\) CA certificate/],
    ['a private key next to the chain', '/private-key', /is a "PRIVATE KEY", not a CERTIFICATE/],
    ['garbage (an HTML page)', '/garbage', /contains no PEM certificate/],
    ['HTTP 403', '/403', /answered HTTP 403: forbidden; nothing was written/],
    ['HTTP 404', '/nowhere', /answered HTTP 404; nothing was written/],
    ['HTTP 500', '/500', /answered HTTP 500: internal error\?\[31m; nothing was written/],
    [
      'a redirect',
      '/redirect',
      /answered HTTP 302 \(a redirect to https:\/\/elsewhere\.example\/chain\.pem, not followed/,
    ],
    ['another format', '/download/trust-chain?format=der', /answered HTTP 400/],
    ['a body over 1 MB (Content-Length)', '/huge', /more than 1048576 bytes/],
    ['a body over 1 MB (chunked)', '/huge-chunked', /more than 1048576 bytes/],
  ])('refuses %s: one line on stderr, exit 1, nothing written', async (_name, urlPath, message) => {
    const result = await run(pemArgs(urlPath));
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(message);
    expect(result.stderr).toMatch(/^fetch-truststore: [^\n]+\n$/);
    expect(result.stderr).not.toContain('PRIVATE KEY-----');
    nothingWritten();
  });

  it('refuses the chain when Identity Plus refuses the client certificate (403 to a device certificate)', async () => {
    const f = files();
    writeFileSync(f.cert, pki.devices.alice.cert);
    writeFileSync(f.key, pki.devices.alice.key);
    const result = await run(pemArgs(CHAIN));
    expect(result).toMatchObject({ code: 1, stdout: '' });
    expect(result.stderr).toMatch(/answered HTTP 403: not an agent certificate; nothing was written/);
    nothingWritten();
  });

  it('verifies the server: without --extra-ca the dev CA is not trusted (system roots only)', async () => {
    const f = files();
    const result = await run(['--cert', f.cert, '--key', f.key, '--url', `${origin}${CHAIN}`, '--out', f.out]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/TLS handshake .* failed: .*(SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT)/);
    expect(requests).toEqual([]);
    nothingWritten();
  });

  it('refuses a server certificate from an untrusted CA, even with --extra-ca set to another CA', async () => {
    const foreignServer = await issueCertificate(pki.foreignCa, {
      subject: 'CN=localhost',
      usage: 'server',
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1'],
    });
    const impostor = await startServer(foreignServer, pki.caChain);
    try {
      const f = files();
      const argv = ['--cert', f.cert, '--key', f.key, '--extra-ca', f.ca, '--url', `${impostor.url}${CHAIN}`];
      const result = await run([...argv, '--out', f.out]);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(
        /TLS handshake with Identity Plus at 127\.0\.0\.1:\d+ failed: .*\((UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)\) \(the server certificate must chain to a system root, or to --extra-ca\); nothing was written\n$/,
      );
      expect(requests).toEqual([]);
      nothingWritten();
    } finally {
      await close(impostor.server);
    }
  });

  it('refuses a dev-CA server certificate issued for another name (the host name is checked too)', async () => {
    const otherName = await issueCertificate(pki.intermediate, {
      subject: 'CN=elsewhere.example',
      usage: 'server',
      dnsNames: ['elsewhere.example'],
    });
    const impostor = await startServer(
      { cert: otherName.cert + pki.intermediate.cert, key: otherName.key },
      pki.caChain,
    );
    try {
      const f = files();
      const argv = ['--cert', f.cert, '--key', f.key, '--extra-ca', f.ca, '--url', `${impostor.url}${CHAIN}`];
      const result = await run([...argv, '--out', f.out]);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/TLS handshake .* failed: .*ERR_TLS_CERT_ALTNAME_INVALID/);
      expect(requests).toEqual([]);
      nothingWritten();
    } finally {
      await close(impostor.server);
    }
  });

  it('reports a server that refuses our API certificate in the handshake', async () => {
    const picky = await startServer(pki.server, pki.foreignCa.cert);
    try {
      const f = files();
      const result = await run([
        '--cert',
        f.cert,
        '--key',
        f.key,
        '--extra-ca',
        f.ca,
        '--url',
        `${picky.url}${CHAIN}`,
        '--out',
        f.out,
      ]);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(
        /^fetch-truststore: .*127\.0\.0\.1:\d+.*(it may have refused our API certificate|ALERT).*; nothing was written\n$/,
      );
      nothingWritten();
    } finally {
      await close(picky.server);
    }
  });

  it('gives up on a server that accepts TCP but never completes TLS (connect limit) or never finishes (total limit)', async () => {
    const silent: TcpServer = createTcpServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const limits = { connectTimeoutMs: 300, totalTimeoutMs: 1_500, maxAnswerBytes: FETCH_LIMITS.maxAnswerBytes };
    try {
      const f = files();
      const port = (silent.address() as AddressInfo).port;
      const started = Date.now();
      const connect = await run(
        [
          '--cert',
          f.cert,
          '--key',
          f.key,
          '--extra-ca',
          f.ca,
          '--url',
          `https://127.0.0.1:${port}${CHAIN}`,
          '--out',
          f.out,
        ],
        { limits },
      );
      expect(connect.code).toBe(1);
      expect(connect.stderr).toMatch(/Could not connect to Identity Plus at 127\.0\.0\.1:\d+ within 300 ms/);
      const slow = await run(pemArgs('/slow'), { limits });
      expect(slow.code).toBe(1);
      expect(slow.stderr).toMatch(/did not answer within 1500 ms/);
      expect(Date.now() - started).toBeLessThan(10_000);
      nothingWritten();
    } finally {
      silent.close();
    }
  });

  it('never overwrites without --force, replaces with it, and never writes through a symlink', async () => {
    const f = files();
    writeFileSync(f.out, 'old truststore\n');
    const refused = await run(pemArgs(CHAIN));
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/already exists; use --force to replace it/);
    expect(readFileSync(f.out, 'utf8')).toBe('old truststore\n');
    expect(requests).toEqual([]); // refused before asking anyone

    const replaced = await run(pemArgs(CHAIN, '--force'));
    expect(replaced.code).toBe(0);
    expect(readFileSync(f.out, 'utf8')).toContain('-----BEGIN CERTIFICATE-----');
    expect(mode(f.out)).toBe('644');

    const target = path.join(dir, 'target.pem');
    writeFileSync(target, 'not yours\n');
    rmSync(f.out);
    symlinkSync(target, f.out);
    for (const extra of [[], ['--force']]) {
      const link = await run(pemArgs(CHAIN, ...extra));
      expect(link.code).toBe(1);
      expect(link.stderr).toMatch(/is a symbolic link; refusing to write through it/);
    }
    expect(readFileSync(target, 'utf8')).toBe('not yours\n');
    expect(lstatSync(f.out).isSymbolicLink()).toBe(true);

    const missing = await run(pemArgs(CHAIN).map((a) => (a === f.out ? path.join(dir, 'nope', 'x.pem') : a)));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/the folder .*nope does not exist/);
  });

  it('local mode: the data folder API certificate and dev CA, written to <data dir>/identity-plus-truststore.pem', async () => {
    const dataDir = path.join(dir, 'data');
    await writeDevPki(dataDir, pki);
    const result = await run(['--data-dir', dataDir, '--url', `${origin}${CHAIN}`]);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(requests).toEqual([{ path: CHAIN, serial: pki.api.serial }]);
    const out = path.join(dataDir, 'identity-plus-truststore.pem');
    expect(readFileSync(out, 'utf8')).toContain('-----BEGIN CERTIFICATE-----');
    expect(result.stdout).toContain(`"truststorePath": "${path.join('data', 'identity-plus-truststore.pem')}"`);

    const none = await run(['--data-dir', path.join(dir, 'empty'), '--url', `${origin}${CHAIN}`]);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/no local mode in .*empty \(no dev PKI\): run npm start once first/);
  });
});

describe('npm run fetch-truststore against the Identity Plus simulator (local mode)', () => {
  let simulator: IdentityPlusSimulator;
  let dataDir: string;
  const fingerprints = (pem: string) =>
    (pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [])
      .map((block) => new X509Certificate(block).fingerprint256)
      .sort();

  beforeAll(async () => {
    simulator = new IdentityPlusSimulator({
      tls: { cert: pki.server.cert, key: pki.server.key, ca: pki.caChain },
      apiClients: [pki.api.cert],
    });
    await simulator.start();
  });
  afterAll(() => simulator.stop());
  beforeEach(async () => {
    dataDir = path.join(dir, 'data');
    await writeDevPki(dataDir, pki);
  });

  it('downloads the dev CA chain with the data folder API certificate into <data dir>/identity-plus-truststore.pem', async () => {
    const result = await run(['--data-dir', dataDir, '--url', `${simulator.signonUrl}${CHAIN}`]);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    const written = readFileSync(path.join(dataDir, 'identity-plus-truststore.pem'), 'utf8');
    expect(fingerprints(written)).toEqual(fingerprints(pki.caChain));
    expect(parseTruststore(written, 'x').ok).toBe(true);
    expect(mode(path.join(dataDir, 'identity-plus-truststore.pem'))).toBe('644');
  });

  it('starts a simulator for the call when nothing listens at the local URL', async () => {
    const [port] = await freePorts(1);
    const result = await run(['--data-dir', dataDir], { localUrl: `https://localhost:${port}${CHAIN}` });
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toMatch(
      /Identity Plus CA chain from https:\/\/(localhost|127\.0\.0\.1):\d+\/download\/trust-chain\?format=pem: 2 CA certificates/,
    );
    expect(fingerprints(readFileSync(path.join(dataDir, 'identity-plus-truststore.pem'), 'utf8'))).toEqual(
      fingerprints(pki.caChain),
    );
  });

  it("is refused with the simulator's 403 for a device certificate and its 400 for another format", async () => {
    const f = files();
    writeFileSync(f.cert, pki.devices.alice.cert);
    writeFileSync(f.key, pki.devices.alice.key);
    const url = `${simulator.signonUrl}${CHAIN}`;
    const device = await run(['--cert', f.cert, '--key', f.key, '--extra-ca', f.ca, '--url', url, '--out', f.out]);
    expect(device.code).toBe(1);
    expect(device.stderr).toMatch(/answered HTTP 403/);
    const der = await run(['--data-dir', dataDir, '--url', url.replace('format=pem', 'format=der')]);
    expect(der.code).toBe(1);
    expect(der.stderr).toMatch(/answered HTTP 400/);
    nothingWritten();
    expect(existsSync(path.join(dataDir, 'identity-plus-truststore.pem'))).toBe(false);
  });
});

describe('the entry (bin/fetch-truststore.ts)', () => {
  const entry = (argv: string[], env: Record<string, string> = {}, input?: string) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      const child = execFile(
        path.join(REPO_ROOT, 'node_modules', '.bin', 'tsx'),
        [path.join(REPO_ROOT, 'bin', 'fetch-truststore.ts'), ...argv],
        { cwd: dir, env: { ...process.env, PLUSGATE_P12_PASSWORD: '', ...env }, timeout: 30_000 },
        (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
      );
      child.stdin?.end(input ?? '');
    });

  it('exits 0 after writing, 1 on a refused answer, 2 on a bad command line; one line, no stack', async () => {
    const f = files();
    const ok = await entry(
      ['--p12', f.p12, '--extra-ca', f.ca, '--url', `${origin}${CHAIN}`, '--out', f.out],
      {},
      `${pki.api.p12Password}\n`,
    );
    expect(ok).toMatchObject({ code: 0, stderr: '' });
    expect(ok.stdout).toContain('"truststorePath": "out/truststore.pem"');
    expect(existsSync(f.out)).toBe(true);

    rmSync(f.out);
    const refused = await entry(pemArgs('/leaf'));
    expect(existsSync(f.out)).toBe(false);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^fetch-truststore: the answer from .* is not a usable truststore: .*\n$/);
    expect(refused.stderr).not.toMatch(/\n\s+at /);

    const usage = await entry(['--cert', f.cert]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toBe(
      'fetch-truststore: --cert and --key go together; --out PATH is required with --p12 or --cert: where to write the truststore (see --help)\n',
    );
  });

  it('reads a piped password from stdin and never echoes it', async () => {
    const f = files();
    const wrong = await entry(
      ['--p12', f.p12, '--extra-ca', f.ca, '--url', `${origin}${CHAIN}`, '--out', f.out],
      {},
      'Pip3d-wrong-secret\nrest',
    );
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/^fetch-truststore: --p12 .*the password does not open it.*\n$/);
    expect(wrong.stdout + wrong.stderr).not.toContain('Pip3d-wrong-secret');
    nothingWritten();
  });
});
