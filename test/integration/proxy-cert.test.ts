/**
 * `npm run proxy-cert` and local mode's proxy CA on a real file system: the files chain to the CA, carry
 * clientAuth, are mode 0600 and never overwritten (unless --force for the proxy's own pair); a TLS server
 * trusting truststore.pem admits the proxy and refuses a device certificate; the entry's exit statuses.
 */
import { execFile } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { connect, createServer } from 'node:tls';
import { type ProxyCertArgs, runProxyCert } from '../../cli/proxy-cert';
import { ensureLocalProxyCa, proxyCaPaths } from '../../local/proxy-ca';
import { testPki } from '../support/test-pki';

jest.setTimeout(60_000);

const REPO_ROOT = path.resolve(__dirname, '../..');
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const DAY_MS = 86_400_000;

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'plusgate-proxy-ca-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the CLI's run half; its exit status and what it printed. */
async function run(args: Partial<ProxyCertArgs> & { name: string }, now = new Date()) {
  let stdout = '';
  let stderr = '';
  const code = await runProxyCert(
    { help: false, out: path.join(dir, 'ca'), days: 365, force: false, ...args },
    {
      stdout: { write: (t: string) => (stdout += t) },
      stderr: { write: (t: string) => (stderr += t) },
      now: () => now,
      cwd: dir,
    },
  );
  return { code, stdout, stderr };
}

const mode = (file: string) => statSync(file).mode & 0o777;
const read = (file: string) => readFileSync(file, 'utf8');

describe('npm run proxy-cert', () => {
  it('makes a CA and a clientAuth certificate for the proxy that chains to it, every file 0600', async () => {
    const result = await run({ name: 'nginx-prod', days: 90 });
    expect(result).toMatchObject({ code: 0, stderr: '' });
    const p = proxyCaPaths(path.join(dir, 'ca'));
    const files = [p.caCert, p.caKey, p.truststore, p.client('nginx-prod').cert, p.client('nginx-prod').key];
    expect(readdirSync(p.dir).sort()).toEqual(files.map((f) => path.basename(f)).sort());
    for (const file of files) expect([file, mode(file).toString(8)]).toEqual([file, '600']);
    expect(mode(p.dir).toString(8)).toBe('700');

    const ca = new X509Certificate(read(p.caCert));
    const leaf = new X509Certificate(read(p.client('nginx-prod').cert));
    expect(ca.ca).toBe(true);
    expect(ca.verify(ca.publicKey)).toBe(true);
    expect(leaf.verify(ca.publicKey)).toBe(true);
    expect(leaf.checkIssued(ca)).toBe(true);
    expect(leaf.ca).toBe(false);
    expect(leaf.keyUsage).toEqual([CLIENT_AUTH]);
    expect(leaf.subject).toContain('CN=nginx-prod');
    expect(leaf.checkPrivateKey(createPrivateKey(read(p.client('nginx-prod').key)))).toBe(true);
    const lifetime = new Date(leaf.validTo).getTime() - Date.now();
    expect(lifetime).toBeGreaterThan(89 * DAY_MS);
    expect(lifetime).toBeLessThan(91 * DAY_MS);
    // The truststore is the CA alone, and the CA's key is not in it.
    expect(read(p.truststore)).toBe(read(p.caCert));
    expect(read(p.truststore)).not.toMatch(/PRIVATE KEY/);

    expect(result.stdout).toContain('proxy CA: made a new one');
    expect(result.stdout).toContain('ca/nginx-prod.pem');
    expect(result.stdout).toContain('forwardAuthTruststorePath');
    expect(result.stdout).toContain('proxy_ssl_certificate ');
  });

  it('reuses the CA for the next proxy and leaves the truststore as it is', async () => {
    await run({ name: 'nginx-prod' });
    const p = proxyCaPaths(path.join(dir, 'ca'));
    const before = { ca: read(p.caCert), key: read(p.caKey) };
    // An operator may append the next CA while rotating: the truststore is never rewritten.
    writeFileSync(p.truststore, `${before.ca}${read(p.caCert)}`);
    const truststore = read(p.truststore);
    const second = await run({ name: 'traefik-eu' });
    expect(second.code).toBe(0);
    expect(second.stdout).toContain('proxy CA: reused');
    expect({ ca: read(p.caCert), key: read(p.caKey), truststore: read(p.truststore) }).toEqual({
      ...before,
      truststore,
    });
    const ca = new X509Certificate(before.ca);
    expect(new X509Certificate(read(p.client('traefik-eu').cert)).verify(ca.publicKey)).toBe(true);
  });

  it("refuses to overwrite a proxy's key, and replaces the pair (still 0600) with --force", async () => {
    await run({ name: 'nginx-prod' });
    const p = proxyCaPaths(path.join(dir, 'ca'));
    const files = p.client('nginx-prod');
    const first = { cert: read(files.cert), key: read(files.key) };
    const again = await run({ name: 'nginx-prod' });
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/nginx-prod\.key or .*nginx-prod\.pem exists already: .*--force/);
    expect({ cert: read(files.cert), key: read(files.key) }).toEqual(first);

    const forced = await run({ name: 'nginx-prod', force: true });
    expect(forced.code).toBe(0);
    expect(forced.stdout).toContain('replacing the previous one');
    expect(read(files.key)).not.toBe(first.key);
    expect(new X509Certificate(read(files.cert)).serialNumber).not.toBe(new X509Certificate(first.cert).serialNumber);
    expect([mode(files.cert), mode(files.key)]).toEqual([0o600, 0o600]);
    expect(readdirSync(p.dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('never writes through a symlink planted where a file goes', async () => {
    const victim = path.join(dir, 'victim');
    writeFileSync(victim, 'untouched');
    const p = proxyCaPaths(path.join(dir, 'ca'));
    await run({ name: 'seed' }); // the folder and CA exist
    symlinkSync(victim, p.client('nginx-prod').key);
    symlinkSync(victim, p.client('nginx-prod').cert);
    const result = await run({ name: 'nginx-prod' });
    expect(result.code).toBe(1);
    expect(read(victim)).toBe('untouched');

    // A truststore symlink is not followed either: the run reports it rather than writing the target.
    unlinkSync(p.truststore);
    symlinkSync(path.join(dir, 'nowhere'), p.truststore);
    expect((await run({ name: 'other' })).code).toBe(0);
    expect(existsSync(path.join(dir, 'nowhere'))).toBe(false);
    expect(lstatSync(p.truststore).isSymbolicLink()).toBe(true);
  });

  it('refuses a half CA (key without certificate) and a key that is not the certificate’s', async () => {
    await run({ name: 'seed' });
    const p = proxyCaPaths(path.join(dir, 'ca'));
    const cert = read(p.caCert);
    unlinkSync(p.caCert);
    const half = await run({ name: 'nginx-prod' });
    expect(half.code).toBe(1);
    expect(half.stderr).toMatch(/proxy-ca\.key is there but .*proxy-ca\.pem is not/);

    const pki = await testPki();
    writeFileSync(p.caCert, pki.root.cert);
    const mismatched = await run({ name: 'nginx-prod' });
    expect(mismatched.code).toBe(1);
    expect(mismatched.stderr).toMatch(/proxy-ca\.key is not the key of .*proxy-ca\.pem/);
    writeFileSync(p.caCert, cert);
    expect((await run({ name: 'nginx-prod' })).code).toBe(0);
  });

  it('warns when the CA key is readable by others', async () => {
    await run({ name: 'seed' });
    chmodSync(proxyCaPaths(path.join(dir, 'ca')).caKey, 0o644);
    const result = await run({ name: 'nginx-prod' });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/warning: .*proxy-ca\.key is readable by others \(mode 0644\): chmod 600 it/);
  });

  it('admits the proxy certificate at a TLS server trusting truststore.pem, and refuses a device certificate there', async () => {
    await run({ name: 'nginx-prod' });
    const p = proxyCaPaths(path.join(dir, 'ca'));
    const pki = await testPki();
    const server = createServer({
      cert: pki.server.cert,
      key: pki.server.key,
      ca: read(p.truststore),
      requestCert: true,
      rejectUnauthorized: true,
    });
    server.on('secureConnection', (socket) => socket.end('hello proxy'));
    server.on('tlsClientError', () => undefined);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const attempt = (cert: string, key: string) =>
      new Promise<string>((resolve) => {
        let data = '';
        const socket = connect({ host: '127.0.0.1', port, servername: 'localhost', ca: pki.caChain, cert, key });
        socket.on('data', (d: Buffer) => (data += d.toString()));
        socket.on('end', () => resolve(data || 'closed'));
        socket.on('error', (err: NodeJS.ErrnoException) => resolve(`error ${err.code ?? err.message}`));
      });
    try {
      expect(await attempt(read(p.client('nginx-prod').cert), read(p.client('nginx-prod').key))).toBe('hello proxy');
      expect(await attempt(pki.devices.alice.cert, pki.devices.alice.key)).not.toBe('hello proxy');
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('bin/proxy-cert.ts', () => {
  const cli = (args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        path.join(REPO_ROOT, 'node_modules', '.bin', 'tsx'),
        [path.join(REPO_ROOT, 'bin', 'proxy-cert.ts'), ...args],
        { cwd: dir },
        (error, stdout, stderr) =>
          resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });

  it('exits 2 with the problem and the usage for a bad command line, 0 when written, 1 when a key is in the way', async () => {
    const bad = await cli(['--name', '../x', '--days', '400']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^proxy-cert: --name: proxy name "..\/x" is not allowed/);
    expect(bad.stderr).toContain('--days: got "400"');
    expect(bad.stderr).toContain('usage: npm run proxy-cert');
    expect(readdirSync(dir)).toEqual([]);

    const ok = await cli(['--name', 'nginx-prod']);
    expect(ok.code).toBe(0);
    // The default folder, relative to where it runs.
    expect(ok.stdout).toContain(`.plusgate${path.sep}proxy-ca${path.sep}nginx-prod.pem`);
    expect(mode(path.join(dir, '.plusgate', 'proxy-ca', 'nginx-prod.key'))).toBe(0o600);

    const again = await cli(['--name', 'nginx-prod']);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/exists already/);
  });
});

describe("local mode's proxy CA", () => {
  it('is made on first start, reused after, and renews only its own client certificate near its end', async () => {
    const first = await ensureLocalProxyCa(dir);
    const p = proxyCaPaths(path.join(dir, 'proxy-ca'));
    expect(first.written.map((f) => path.basename(f)).sort()).toEqual(
      ['local-proxy.key', 'local-proxy.pem', 'proxy-ca.key', 'proxy-ca.pem', 'truststore.pem'].sort(),
    );
    for (const file of first.written) expect(mode(file)).toBe(0o600);
    expect(first.truststore).toBe(read(p.caCert));
    const ca = new X509Certificate(read(p.caCert));
    expect(new X509Certificate(read(first.client.certFile)).verify(ca.publicKey)).toBe(true);

    const again = await ensureLocalProxyCa(dir);
    expect(again.written).toEqual([]);

    // 360 days on, the 365-day local-proxy certificate has five days left: a new one, from the same CA.
    const later = await ensureLocalProxyCa(dir, new Date(Date.now() + 360 * DAY_MS));
    expect(later.written.map((f) => path.basename(f)).sort()).toEqual(['local-proxy.key', 'local-proxy.pem']);
    expect(read(p.caCert)).toBe(ca.toString());
  });

  it('shares its folder with npm run proxy-cert: a certificate issued there chains to the same CA', async () => {
    await ensureLocalProxyCa(dir);
    const result = await run({ name: 'my-nginx', out: path.join(dir, 'proxy-ca') });
    expect(result.code).toBe(0);
    const p = proxyCaPaths(path.join(dir, 'proxy-ca'));
    const ca = new X509Certificate(read(p.caCert));
    expect(new X509Certificate(read(p.client('my-nginx').cert)).verify(ca.publicKey)).toBe(true);
  });
});
