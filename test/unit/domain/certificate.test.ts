import { normalizeSerial, parseCertificatePem, serialToColonHex } from '../../../functions/domain/certificate';
import { InvalidInputError } from '../../../functions/domain/errors';
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
