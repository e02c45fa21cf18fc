import { type DevPki, generateDevPki } from '../../local/dev-pki';
import { loadDevPki } from '../../local/dev-pki-files';

let cached: Promise<DevPki> | undefined;

/** The dev PKI generated for this test run (see global-setup.ts); generated here when run without it. */
export function testPki(): Promise<DevPki> {
  const dir = process.env.PLUSGATE_TEST_PKI_DIR;
  cached ??= dir ? loadDevPki(dir) : generateDevPki();
  return cached;
}
