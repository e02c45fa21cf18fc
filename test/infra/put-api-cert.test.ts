/**
 * `npm run put-api-cert`: flag parsing and the local check of the API certificate (the AWS call is not
 * tested here: no machine reaches AWS). The certificate is the test PKI's stand-in for our Identity Plus
 * API certificate, as PKCS#12 and as PEM.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { X509Certificate } from 'node:crypto';
import forge from 'node-forge';
import {
  ApiCertInputError,
  describeApiCert,
  parsePutApiCertArgs,
  prepareApiCertSecret,
} from '../../cli/api-cert-input';
import { UsageError } from '../../cli/usage-error';
import { testPki } from '../support/test-pki';
import { REPO_ROOT } from './plusgate-fixture';

const dir = mkdtempSync(path.join(tmpdir(), 'plusgate-put-api-cert-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
function file(name: string, content: string | Buffer): string {
  const p = path.join(dir, name);
  writeFileSync(p, content);
  return p;
}

describe('parsePutApiCertArgs', () => {
  test('reads the PKCS#12 form', () => {
    expect(
      parsePutApiCertArgs(
        ['--p12', 'api.p12', '--password', 'pw', '--secret-name', 'plusgate/api', '--region', 'eu-west-1'],
        {},
      ),
    ).toEqual({
      help: false,
      secretName: 'plusgate/api',
      region: 'eu-west-1',
      source: { kind: 'p12', file: 'api.p12', password: 'pw' },
    });
  });

  test('reads the PEM form and --flag=value', () => {
    expect(parsePutApiCertArgs(['--cert=c.pem', '--key=k.pem', '--secret-name=plusgate/api'], {})).toEqual({
      help: false,
      secretName: 'plusgate/api',
      region: undefined,
      source: { kind: 'pem', certFile: 'c.pem', keyFile: 'k.pem' },
    });
  });

  test('takes the PKCS#12 password from PLUSGATE_P12_PASSWORD when --password is not given', () => {
    expect(
      parsePutApiCertArgs(['--p12', 'a.p12', '--secret-name', 's'], { PLUSGATE_P12_PASSWORD: 'from-env' }).source,
    ).toEqual({ kind: 'p12', file: 'a.p12', password: 'from-env' });
  });

  test('--help wins over anything else on the line', () => {
    expect(parsePutApiCertArgs(['--bogus', '--help'], {}).help).toBe(true);
  });

  test.each([
    [['--p12', 'a.p12', '--password', 'pw', '--secret-name', 's', '--verbose'], /unknown argument "--verbose"/],
    [['--p12', 'a.p12', '--password', 'pw', '--secret-name'], /--secret-name needs a value/],
    [['--p12', '--password', 'pw', '--secret-name', 's'], /--p12 needs a value/],
    [['--p12', 'a.p12', '--password', 'pw'], /--secret-name is required/],
    [
      ['--p12', 'a.p12', '--password', 'pw', '--secret-name', 'arn:aws:secretsmanager:eu-west-1:1:secret:x'],
      /not a Secrets Manager name/,
    ],
    [['--p12', 'a.p12', '--secret-name', 's'], /--p12 needs --password/],
    [
      ['--p12', 'a.p12', '--password', 'pw', '--cert', 'c.pem', '--key', 'k.pem', '--secret-name', 's'],
      /either --p12 .* or --cert and --key, not both/,
    ],
    [['--cert', 'c.pem', '--secret-name', 's'], /--cert and --key go together/],
    [['--cert', 'c.pem', '--key', 'k.pem', '--password', 'pw', '--secret-name', 's'], /--password belongs to --p12/],
    [['--secret-name', 's'], /give the certificate/],
    [['--p12', 'a', '--p12', 'b', '--password', 'pw', '--secret-name', 's'], /--p12 given twice/],
    [
      ['--p12', 'a', '--password', 'pw', '--secret-name', 's', '--region', 'Europe'],
      /--region "Europe" is not an AWS region/,
    ],
  ])('refuses %j', (argv, message) => {
    expect(() => parsePutApiCertArgs(argv, {})).toThrow(UsageError);
    expect(() => parsePutApiCertArgs(argv, {})).toThrow(message);
  });
});

describe('prepareApiCertSecret', () => {
  test('opens the PKCS#12 with its password and stores it as {"p12": base64, "password"}', async () => {
    const { api } = await testPki();
    const prepared = await prepareApiCertSecret({
      kind: 'p12',
      file: file('api.p12', api.p12),
      password: api.p12Password,
    });
    expect(JSON.parse(prepared.secretString)).toEqual({ p12: api.p12.toString('base64'), password: api.p12Password });
    const x509 = new X509Certificate(api.cert);
    expect(prepared.summary).toMatchObject({ serial: api.serial, notAfter: new Date(x509.validTo) });
    expect(prepared.summary.subject).toContain('CN=');
  });

  test('stores a PEM certificate and key as {"certificate", "privateKey"}', async () => {
    const { api } = await testPki();
    const prepared = await prepareApiCertSecret({
      kind: 'pem',
      certFile: file('api.pem', api.cert),
      keyFile: file('api.key', api.key),
    });
    expect(JSON.parse(prepared.secretString)).toEqual({ certificate: api.cert, privateKey: api.key });
    expect(prepared.summary.serial).toBe(api.serial);
  });

  test('reads the API certificate out of a PKCS#12 that also carries its CA chain, whichever comes first', async () => {
    const pki = await testPki();
    const chainFirst = [pki.root.cert, pki.intermediate.cert, pki.api.cert].map((pem) =>
      forge.pki.certificateFromPem(pem),
    );
    const p12 = forge.asn1
      .toDer(
        forge.pkcs12.toPkcs12Asn1(forge.pki.privateKeyFromPem(pki.api.key), chainFirst, 'pw', { algorithm: 'aes256' }),
      )
      .getBytes();
    const prepared = await prepareApiCertSecret({
      kind: 'p12',
      file: file('chain.p12', Buffer.from(p12, 'binary')),
      password: 'pw',
    });
    expect(prepared.summary.serial).toBe(pki.api.serial);
  });

  test('what is printed holds subject, serial and expiry, never the key or the password', async () => {
    const { api } = await testPki();
    const password = 'Unprintable-7f3a';
    const p12 = forge.asn1
      .toDer(
        forge.pkcs12.toPkcs12Asn1(
          forge.pki.privateKeyFromPem(api.key),
          [forge.pki.certificateFromPem(api.cert)],
          password,
          { algorithm: 'aes256' },
        ),
      )
      .getBytes();
    const prepared = await prepareApiCertSecret({
      kind: 'p12',
      file: file('api2.p12', Buffer.from(p12, 'binary')),
      password,
    });
    const printed = describeApiCert(prepared.summary).join('\n');
    expect(printed).toMatch(/subject: .*\nissuer: .*\nserial: +\d+\nnotAfter: \d{4}-/);
    expect(printed).not.toContain(password);
    expect(printed).not.toMatch(/PRIVATE KEY|-----BEGIN/);
    expect(JSON.stringify(prepared.summary)).not.toContain(password);
  });

  test('a wrong password is refused before anything is stored', async () => {
    const { api } = await testPki();
    await expect(
      prepareApiCertSecret({ kind: 'p12', file: file('api3.p12', api.p12), password: 'wrong' }),
    ).rejects.toBeInstanceOf(ApiCertInputError);
    await expect(
      prepareApiCertSecret({ kind: 'p12', file: file('api4.p12', api.p12), password: 'wrong' }),
    ).rejects.toThrow(/the password does not open it/);
  });

  test('a key that does not belong to the certificate is refused', async () => {
    const { api, devices } = await testPki();
    await expect(
      prepareApiCertSecret({
        kind: 'pem',
        certFile: file('api5.pem', api.cert),
        keyFile: file('alice.key', devices.alice.key),
      }),
    ).rejects.toThrow(/is not the private key of the certificate/);
  });

  test('a missing file or a non-PEM input is named', async () => {
    await expect(
      prepareApiCertSecret({ kind: 'p12', file: path.join(dir, 'nope.p12'), password: 'x' }),
    ).rejects.toThrow(/--p12 .*nope\.p12: no such file/);
    const { api } = await testPki();
    await expect(
      prepareApiCertSecret({ kind: 'pem', certFile: file('junk.pem', 'hello'), keyFile: file('api6.key', api.key) }),
    ).rejects.toThrow(/not a PEM certificate/);
  });

  test('an expired certificate is refused', async () => {
    const { api } = await testPki();
    await expect(
      prepareApiCertSecret(
        { kind: 'pem', certFile: file('api7.pem', api.cert), keyFile: file('api7.key', api.key) },
        new Date('2999-01-01T00:00:00Z'),
      ),
    ).rejects.toThrow(/expired on/);
  });
});

describe('the script', () => {
  test('bad flags print the usage and exit 2', () => {
    const run = spawnSync(
      path.join(REPO_ROOT, 'node_modules', '.bin', 'tsx'),
      ['bin/put-api-cert.ts', '--p12', 'a.p12', '--secret-name', 's'],
      {
        cwd: REPO_ROOT,
        encoding: 'utf8',
        env: { ...process.env, PLUSGATE_P12_PASSWORD: '' },
      },
    );
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('put-api-cert: --p12 needs --password');
    expect(run.stderr).toContain('Usage:');
  });
});
