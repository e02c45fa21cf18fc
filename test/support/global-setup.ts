/**
 * Generates one dev PKI per test run (fresh keys, no committed certificates) and hands its folder to
 * every test file through PLUSGATE_TEST_PKI_DIR, so a dozen suites don't each pay for twelve RSA keys.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { generateDevPki } from '../../local/dev-pki';
import { writeDevPki } from '../../local/dev-pki-files';

export default async function globalSetup(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'plusgate-test-pki-'));
  await writeDevPki(dir, await generateDevPki());
  process.env.PLUSGATE_TEST_PKI_DIR = dir;
}
