import { X509Certificate } from 'node:crypto';
import {
  CertificateParser,
  PARSED_CERTIFICATE_CACHE_SIZE,
  certificateParser,
  normalizeSerial,
  parseCertificatePem,
  serialToColonHex,
} from '../../../functions/domain/certificate';
import { InvalidInputError } from '../../../functions/domain/errors';
import { issueCertificate } from '../../../local/dev-pki';
import { testPki } from '../../support/test-pki';

describe('normalizeSerial', () => {
  const decimal = '476701752658536845';
  const hex = BigInt(decimal).toString(16); // 69d9c6ebd4d7a8d

  it.each([
    ['decimal', decimal],
    ['decimal with leading zeros', `000${decimal}`],
    ['0x-hex', `0x${hex}`],
    ['0X-hex upper case', `0X${hex.toUpperCase()}`],
    ['bare hex with a letter', hex],
    ['colon-separated hex as API Gateway writes it', serialToColonHex(decimal)],
    ['colon-separated upper-case hex', serialToColonHex(decimal).toUpperCase()],
    ['surrounding whitespace', `  ${decimal}\n`],
  ])('reads %s', (_form, input) => {
    expect(normalizeSerial(input)).toBe(decimal);
  });

  it('reads a digits-only string as hex when the source is known to give hex', () => {
    expect(normalizeSerial('10', 'serial', 'hex')).toBe('16');
  });

  it.each([
    ['empty', '', /empty/],
    ['words', 'alice', /not a serial number/],
    ['negative', '-5', /not a serial number/],
    ['decimal with a dot', '12.5', /not a serial number/],
    ['zero', '0', /positive/],
    ['more than 20 bytes', `0x${'f'.repeat(41)}`, /larger than 20 bytes/],
    ['overlong input', '1'.repeat(200), /at most 20 bytes/],
    ['mixed separators', '0a:0b-0c', /not a serial number/],
  ])('rejects %s with a message saying what was wrong', (_case, input, message) => {
    expect(() => normalizeSerial(input)).toThrow(InvalidInputError);
    expect(() => normalizeSerial(input)).toThrow(message);
  });

  it('rejects a non-string', () => {
    expect(() => normalizeSerial(12345)).toThrow(/must be a string/);
  });

  it('does not echo control characters back', () => {
    try {
      normalizeSerial('abc\r\nSet-Cookie: x');
      throw new Error('expected a rejection');
    } catch (err) {
      expect((err as Error).message).not.toMatch(/[\r\n]/);
    }
  });
});

describe('parseCertificatePem', () => {
  it('reads serial, subject, issuer, device name and type, and validity', async () => {
    const pki = await testPki();
    const alice = parseCertificatePem(pki.devices.alice.cert);
    expect(alice.serial).toBe(pki.devices.alice.serial);
    expect(alice.commonName).toBe("Alice's Laptop");
    expect(alice.deviceType).toBe('Desktop');
    expect(alice.subject).toContain("CN=Alice's Laptop");
    expect(alice.issuer).toContain('Intermediate CA');
    expect(alice.notBefore.getTime()).toBeLessThan(Date.now());
    expect(alice.notAfter.getTime()).toBeGreaterThan(Date.now());
    expect(alice.fingerprint256).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  });

  it('takes the serial from the certificate, as a decimal string', async () => {
    const pki = await testPki();
    const parsed = parseCertificatePem(pki.devices.erin.cert);
    expect(parsed.serial).toBe(BigInt(`0x${parsed.x509.serialNumber}`).toString(10));
  });

  it('accepts surrounding whitespace and CRLF line ends', async () => {
    const pki = await testPki();
    const crlf = `\n  ${pki.devices.bob.cert.replace(/\n/g, '\r\n')}`;
    expect(parseCertificatePem(crlf).serial).toBe(pki.devices.bob.serial);
  });

  it.each([
    ['not a string', 42, /must be a PEM certificate string/],
    ['empty', '   ', /must be a PEM certificate string/],
    ['a private key', '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n', /not a single PEM certificate/],
    ['plain text', 'hello', /not a single PEM certificate/],
    ['a truncated block', '-----BEGIN CERTIFICATE-----\nMIIB\n', /not a single PEM certificate/],
    [
      'base64 that is not a certificate',
      '-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n',
      /could not be parsed/,
    ],
    [
      'an oversized input',
      `-----BEGIN CERTIFICATE-----\n${'A'.repeat(20000)}\n-----END CERTIFICATE-----`,
      /at most 16384/,
    ],
  ])('rejects %s', (_case, input, message) => {
    expect(() => parseCertificatePem(input)).toThrow(InvalidInputError);
    expect(() => parseCertificatePem(input)).toThrow(message);
  });

  it('rejects two certificates where one is expected', async () => {
    const pki = await testPki();
    expect(() => parseCertificatePem(pki.devices.alice.cert + pki.devices.bob.cert)).toThrow(/single PEM certificate/);
  });

  it('names the field in its errors', () => {
    expect(() => parseCertificatePem('x', 'X-Client-Cert')).toThrow(/^X-Client-Cert /);
  });
});

describe('CertificateParser', () => {
  /** A parser whose X.509 constructions are counted. */
  function countingParser(capacity?: number) {
    const made: string[] = [];
    const parser = new CertificateParser({
      ...(capacity === undefined ? {} : { capacity }),
      x509: (pem) => {
        made.push(pem);
        return new X509Certificate(pem);
      },
    });
    return { parser, made };
  }

  it('parses the same PEM text once and returns the same object again', async () => {
    const pki = await testPki();
    const { parser, made } = countingParser();
    const first = parser.parse(pki.devices.alice.cert);
    const again = parser.parse(pki.devices.alice.cert, 'client certificate');
    expect(again).toBe(first);
    expect(made).toHaveLength(1);
    expect(parser.parses).toBe(1);
    expect(parser.size).toBe(1);
  });

  it('returns a frozen result, so no caller can change what the next one gets', async () => {
    const pki = await testPki();
    const cert = new CertificateParser().parse(pki.devices.alice.cert);
    expect(Object.isFrozen(cert)).toBe(true);
  });

  it('parses a different certificate with the same serial on its own', async () => {
    const pki = await testPki();
    const twin = await issueCertificate(pki.intermediate, { subject: 'CN=twin', serial: pki.devices.alice.serial });
    const { parser, made } = countingParser();
    const alice = parser.parse(pki.devices.alice.cert);
    const other = parser.parse(twin.cert);
    expect(other.serial).toBe(alice.serial);
    expect(other).not.toBe(alice);
    expect(other.fingerprint256).not.toBe(alice.fingerprint256);
    expect(other.commonName).toBe('twin');
    expect(made).toHaveLength(2);
  });

  it('keys on the exact text: the same certificate written differently is parsed again, to the same content', async () => {
    const pki = await testPki();
    const { parser, made } = countingParser();
    const lf = parser.parse(pki.devices.bob.cert);
    const crlf = parser.parse(pki.devices.bob.cert.replace(/\n/g, '\r\n'));
    expect(made).toHaveLength(2);
    expect(crlf.fingerprint256).toBe(lf.fingerprint256);
  });

  it('keeps results only: input that fails is refused again every time, with its own field name', () => {
    const { parser, made } = countingParser();
    const garbage = '-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n';
    expect(() => parser.parse(garbage, 'one')).toThrow(/^one could not be parsed/);
    expect(() => parser.parse(garbage, 'two')).toThrow(/^two could not be parsed/);
    expect(made).toHaveLength(2);
    expect(parser.size).toBe(0);
    expect(() => parser.parse('hello')).toThrow(/not a single PEM certificate/);
    expect(made).toHaveLength(2);
  });

  it('holds at most 1,000 certificates by default: the 1,001st pushes out the least recently used', async () => {
    const pki = await testPki();
    const { parser, made } = countingParser();
    expect(parser.capacity).toBe(PARSED_CERTIFICATE_CACHE_SIZE);
    expect(PARSED_CERTIFICATE_CACHE_SIZE).toBe(1000);
    // 1,001 distinct PEM texts of one certificate (trailing spaces are allowed and make the text differ).
    const texts = Array.from(
      { length: PARSED_CERTIFICATE_CACHE_SIZE + 1 },
      (_, i) => pki.devices.carol.cert + ' '.repeat(i),
    );
    for (const text of texts) parser.parse(text);
    expect(parser.size).toBe(PARSED_CERTIFICATE_CACHE_SIZE);
    expect(made).toHaveLength(PARSED_CERTIFICATE_CACHE_SIZE + 1);
    parser.parse(texts[PARSED_CERTIFICATE_CACHE_SIZE]);
    expect(made).toHaveLength(PARSED_CERTIFICATE_CACHE_SIZE + 1);
    parser.parse(texts[0]);
    expect(made).toHaveLength(PARSED_CERTIFICATE_CACHE_SIZE + 2);
    expect(parser.size).toBe(PARSED_CERTIFICATE_CACHE_SIZE);
  });

  it('parseCertificatePem goes through the one parser of the process', async () => {
    const pki = await testPki();
    const fresh = await issueCertificate(pki.intermediate, { subject: 'CN=fresh' });
    const before = certificateParser.parses;
    const first = parseCertificatePem(fresh.cert);
    expect(parseCertificatePem(fresh.cert, 'X-Client-Cert')).toBe(first);
    expect(certificateParser.parses - before).toBe(1);
  });
});
