import { rmSync } from 'node:fs';

export default async function globalTeardown(): Promise<void> {
  const dir = process.env.PLUSGATE_TEST_PKI_DIR;
  if (dir) rmSync(dir, { recursive: true, force: true });
}
