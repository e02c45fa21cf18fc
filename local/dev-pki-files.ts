/**
 * The dev PKI on disk, under `<dataDir>/pki/`: where each file goes, writing it (keys and PKCS#12 files
 * readable by the owner only), reading it back, and making it anew when it is missing or about to expire.
 */
import { X509Certificate } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import {
  DEMO_PEOPLE,
  DEV_P12_PASSWORD,
  type DemoPerson,
  type DevPki,
  type IssuedCert,
  type KeyPair,
  decimalSerialOf,
  generateDevPki,
} from './dev-pki';

const DAY_MS = 86_400_000;

/** Files of the dev PKI, relative to `<dataDir>/pki`. */
export function devPkiPaths(dataDir: string) {
  const dir = path.join(dataDir, 'pki');
  const file = (name: string) => path.join(dir, name);
  return {
    dir,
    caChain: file('ca.pem'),
    root: { cert: file('root-ca.pem'), key: file('root-ca.key') },
    intermediate: { cert: file('intermediate-ca.pem'), key: file('intermediate-ca.key') },
    foreignCa: { cert: file('foreign-ca.pem'), key: file('foreign-ca.key') },
    server: { cert: file('server.pem'), key: file('server.key') },
    leaf: (name: string) => ({ cert: file(`${name}.pem`), key: file(`${name}.key`), p12: file(`${name}.p12`) }),
  };
}

/**
 * Loads the dev PKI from `<dataDir>/pki`, or creates it there when it is missing, incomplete, or its
 * server or API certificate expires within a week (so a long-idle checkout heals itself).
 */
export async function loadOrCreateDevPki(dataDir: string, now: Date = new Date()): Promise<DevPki> {
  const existing = await loadDevPki(dataDir).catch(() => undefined);
  if (existing && stillUsable(existing, now)) return existing;
  const pki = await generateDevPki(now);
  await writeDevPki(dataDir, pki);
  return pki;
}

/** Reads a dev PKI written by {@link writeDevPki}; throws naming the first missing file. */
export async function loadDevPki(dataDir: string): Promise<DevPki> {
  const p = devPkiPaths(dataDir);
  const read = (file: string) => fs.readFile(file, 'utf8');
  const pair = async (f: { cert: string; key: string }): Promise<KeyPair> => ({
    cert: await read(f.cert),
    key: await read(f.key),
  });
  const leaf = async (name: string): Promise<IssuedCert> => {
    const f = p.leaf(name);
    const cert = await read(f.cert);
    return {
      cert,
      key: await read(f.key),
      p12: await fs.readFile(f.p12),
      p12Password: DEV_P12_PASSWORD,
      serial: decimalSerialOf(cert),
    };
  };
  const devices = {} as Record<DemoPerson, IssuedCert>;
  for (const person of DEMO_PEOPLE) devices[person] = await leaf(person);
  return {
    caChain: await read(p.caChain),
    root: await pair(p.root),
    intermediate: await pair(p.intermediate),
    server: await pair(p.server),
    api: await leaf('api'),
    devices,
    foreignCa: await pair(p.foreignCa),
  };
}

/** Writes the dev PKI; private keys and PKCS#12 files are readable by the owner only. */
export async function writeDevPki(dataDir: string, pki: DevPki): Promise<void> {
  const p = devPkiPaths(dataDir);
  await fs.mkdir(p.dir, { recursive: true, mode: 0o700 });
  const pub = (file: string, data: string) => fs.writeFile(file, data, { mode: 0o644 });
  const secret = (file: string, data: string | Buffer) => fs.writeFile(file, data, { mode: 0o600 });
  const pair = async (f: { cert: string; key: string }, kp: KeyPair) => {
    await pub(f.cert, kp.cert);
    await secret(f.key, kp.key);
  };
  await pub(p.caChain, pki.caChain);
  await pair(p.root, pki.root);
  await pair(p.intermediate, pki.intermediate);
  await pair(p.foreignCa, pki.foreignCa);
  await pair(p.server, pki.server);
  const leaves: Array<[string, IssuedCert]> = [
    ['api', pki.api],
    ...DEMO_PEOPLE.map((n) => [n, pki.devices[n]] as [string, IssuedCert]),
  ];
  for (const [name, leaf] of leaves) {
    const f = p.leaf(name);
    await pair(f, leaf);
    await secret(f.p12, leaf.p12);
  }
}

function stillUsable(pki: DevPki, now: Date): boolean {
  const soon = now.getTime() + 7 * DAY_MS;
  return [pki.server.cert, pki.api.cert].every((pem) => new Date(new X509Certificate(pem).validTo).getTime() > soon);
}
