/**
 * The truststore copy the verify and authorizer bundles are built from: written to a private folder nobody
 * can predict, created exclusively with mode 0600, checked by SHA-256 after writing, and gone after the synth.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { checkTruststoreFile, readTruststore, type TruststorePem, writeTruststoreFile } from '../../lib/truststore-pem';
import { CDK_JSON_CONTEXT, REPO_ROOT, synthPlusgate } from './plusgate-fixture';

const read = readTruststore(path.resolve(REPO_ROOT, String(CDK_JSON_CONTEXT.truststorePath)));
if (!read.ok) throw new Error('the example truststore in cdk.json must be valid');
const truststore: TruststorePem = read.truststore;

const scratch = mkdtempSync(path.join(os.tmpdir(), 'plusgate-truststore-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('writeTruststoreFile', () => {
  test('writes exactly the checked PEM, mode 0600, in a new folder of its own, mode 0700', () => {
    const copy = writeTruststoreFile(truststore, { parent: scratch });
    try {
      expect(readFileSync(copy.file, 'utf8')).toBe(truststore.pem);
      expect(statSync(copy.file).mode & 0o777).toBe(0o600);
      expect(statSync(path.dirname(copy.file)).mode & 0o777).toBe(0o700);
      expect(path.dirname(path.dirname(copy.file))).toBe(scratch);
    } finally {
      copy.remove();
    }
  });

  test('the path cannot be predicted: every write gets a new random folder, not one named by the hash', () => {
    const a = writeTruststoreFile(truststore);
    const b = writeTruststoreFile(truststore);
    try {
      expect(path.dirname(a.file)).not.toBe(path.dirname(b.file));
      for (const { file } of [a, b]) {
        expect(path.dirname(path.dirname(file))).toBe(os.tmpdir());
        expect(path.basename(path.dirname(file))).toMatch(/^plusgate-truststore-[A-Za-z0-9]{6}$/);
        expect(file).not.toContain(truststore.sha256);
      }
    } finally {
      a.remove();
      b.remove();
    }
  });

  test('remove() deletes the copy and its folder', () => {
    const copy = writeTruststoreFile(truststore, { parent: scratch });
    copy.remove();
    expect(existsSync(path.dirname(copy.file))).toBe(false);
  });

  test('a copy that does not hold the checked truststore stops the synth, and nothing is left behind', () => {
    const before = readdirSync(scratch);
    // Stands in for anything that changes the file between writing and checking it.
    const tampered = (file: string, pem: string) => writeFileSync(file, `${pem}-----BEGIN CERTIFICATE-----\nEVIL\n`);
    expect(() => writeTruststoreFile(truststore, { parent: scratch, write: tampered })).toThrow(
      new RegExp(`has SHA-256 [0-9a-f]{64}, not ${truststore.sha256} \\(the checked truststore from .*\\): it changed`),
    );
    expect(readdirSync(scratch)).toEqual(before);
  });
});

describe('checkTruststoreFile', () => {
  test('accepts a regular file with exactly the checked PEM', () => {
    const file = path.join(scratch, 'good.pem');
    writeFileSync(file, truststore.pem);
    expect(() => checkTruststoreFile(file, truststore)).not.toThrow();
  });

  test('refuses one byte more, and names both hashes', () => {
    const file = path.join(scratch, 'longer.pem');
    writeFileSync(file, `${truststore.pem}\n`);
    const actual = createHash('sha256').update(`${truststore.pem}\n`).digest('hex');
    expect(() => checkTruststoreFile(file, truststore)).toThrow(`has SHA-256 ${actual}, not ${truststore.sha256}`);
  });

  test('refuses a symbolic link, even to the right content', () => {
    const target = path.join(scratch, 'target.pem');
    writeFileSync(target, truststore.pem);
    const link = path.join(scratch, 'link.pem');
    symlinkSync(target, link);
    expect(() => checkTruststoreFile(link, truststore)).toThrow(/cannot be checked: it is not a regular file/);
  });

  test('refuses a missing file', () => {
    expect(() => checkTruststoreFile(path.join(scratch, 'missing.pem'), truststore)).toThrow(/cannot be checked/);
  });
});

describe('in the synth', () => {
  test('the copy goes to a private folder that is gone after the synth; nothing is written at the old predictable path', () => {
    // (os.tmpdir() reads the real environment, not jest's copy of it: watch mkdtempSync instead of moving TMPDIR.)
    const predictable = path.join(os.tmpdir(), `plusgate-truststore-${truststore.sha256}.pem`);
    rmSync(predictable, { force: true });
    const mkdtemp = jest.spyOn(fs, 'mkdtempSync');
    let created: string[];
    try {
      synthPlusgate();
      created = mkdtemp.mock.results
        .map((r) => String(r.value))
        .filter((dir) => path.basename(dir).startsWith('plusgate-truststore-'));
    } finally {
      mkdtemp.mockRestore();
    }
    expect(created).toHaveLength(1);
    for (const dir of created) {
      expect(path.dirname(dir)).toBe(os.tmpdir());
      expect(existsSync(dir)).toBe(false);
    }
    expect(existsSync(predictable)).toBe(false);
  });
});
