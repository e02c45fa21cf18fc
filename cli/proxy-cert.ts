/**
 * `npm run proxy-cert`: makes (or reuses) the operator's proxy CA in a folder and issues a reverse proxy a
 * client certificate for plusgate's mutual-TLS forward-auth door. The CA alone goes into `truststore.pem`:
 * the door's truststore (AWS: the `forwardAuthTruststorePath` setting; local mode: `<data dir>/proxy-ca`,
 * which is this command's default folder). Argument parsing and the run live here; bin/proxy-cert.ts is
 * the entry. Files and checks: local/proxy-ca.ts.
 */
import * as path from 'node:path';
import {
  DEFAULT_PROXY_CERT_DAYS,
  MAX_PROXY_CERT_DAYS,
  ProxyCaError,
  issueProxyCertificate,
  loadOrCreateProxyCa,
  proxyCaPaths,
  proxyNameProblem,
} from '../local/proxy-ca';
import { UsageError, parseFlags } from './usage-error';

/** The folder used without `--out`: local mode's proxy CA (its door trusts what this issues there). */
export const DEFAULT_PROXY_CA_DIR = path.join('.plusgate', 'proxy-ca');

export const PROXY_CERT_USAGE = `usage: npm run proxy-cert -- --name NAME [options]
  --name NAME     the proxy (e.g. nginx-prod): the certificate's CN and the files NAME.pem, NAME.key;
                  letters, digits, '.', '_', '-', at most 64
  --out DIR       the proxy CA's folder (default ${DEFAULT_PROXY_CA_DIR}: local mode's proxy CA, which its
                  --forward-auth-port door trusts). For a deployment, a folder outside the checkout that
                  you keep safe: its proxy-ca.key signs every proxy certificate
  --days N        the client certificate's validity, 1 to ${MAX_PROXY_CERT_DAYS} days (default ${DEFAULT_PROXY_CERT_DAYS})
  --force         replace NAME's existing certificate and key (the CA is never replaced)
  -h, --help      this text

Writes, each file mode 0600 and created exclusively: proxy-ca.pem and proxy-ca.key (the CA, made when the
folder has none, reused otherwise), truststore.pem (the CA alone: the door's truststore, written when
missing), NAME.pem and NAME.key (the proxy's client certificate, extended key usage clientAuth).

exit status: 0 written, 1 the folder's files are in the way or unusable (nothing was overwritten),
2 a bad command line`;

/** The parsed command line. */
export interface ProxyCertArgs {
  readonly help: boolean;
  readonly name: string;
  readonly out: string;
  readonly days: number;
  readonly force: boolean;
}

/** Parses `argv` (without node and the script); throws UsageError naming each bad flag. */
export function parseProxyCertArgs(argv: readonly string[]): ProxyCertArgs {
  const values = parseFlags(argv, FLAGS);
  const help = values.help ?? false;
  if (help) return { help, name: '', out: DEFAULT_PROXY_CA_DIR, days: DEFAULT_PROXY_CERT_DAYS, force: false };
  const problems: string[] = [];
  const name = values.name;
  if (name === undefined) problems.push('--name is required: the proxy the certificate is for, e.g. --name nginx-prod');
  else {
    const problem = proxyNameProblem(name);
    if (problem) problems.push(`--name: ${problem}`);
  }
  const out = values.out ?? DEFAULT_PROXY_CA_DIR;
  if (out.trim() === '') problems.push('--out is empty');
  let days = DEFAULT_PROXY_CERT_DAYS;
  if (values.days !== undefined) {
    days = /^\d{1,4}$/.test(values.days) ? Number(values.days) : Number.NaN;
    if (!(days >= 1 && days <= MAX_PROXY_CERT_DAYS)) {
      problems.push(
        `--days: got ${JSON.stringify(values.days.slice(0, 40))}; expected a whole number of days from 1 to ${MAX_PROXY_CERT_DAYS}`,
      );
    }
  }
  if (problems.length > 0) throw new UsageError(problems.join('\n'));
  return { help, name: name as string, out, days, force: values.force ?? false };
}

/** The flags of this CLI (read by parseFlags, cli/usage-error.ts: a bad one is a UsageError). */
const FLAGS = {
  name: { type: 'string' },
  out: { type: 'string' },
  days: { type: 'string' },
  force: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Where the CLI writes. */
export interface ProxyCertIo {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
  readonly now: () => Date;
  /** Paths are printed relative to this when inside it. @default process.cwd() */
  readonly cwd?: string;
}

/** Makes or reuses the CA, issues the certificate, prints what was written and the next step; the exit status. */
export async function runProxyCert(args: ProxyCertArgs, io: ProxyCertIo): Promise<number> {
  const now = io.now();
  const show = (file: string) => {
    const relative = path.relative(io.cwd ?? process.cwd(), file);
    return relative.startsWith('..') || path.isAbsolute(relative) ? file : relative;
  };
  const p = proxyCaPaths(args.out);
  try {
    const ca = await loadOrCreateProxyCa(args.out, now);
    const issued = await issueProxyCertificate(args.out, ca, args.name, { days: args.days, force: args.force, now });
    const lines = [
      ca.created
        ? `proxy CA: made a new one in ${show(args.out)}/ (valid until ${ca.notAfter.toISOString().slice(0, 10)})`
        : `proxy CA: reused the one in ${show(args.out)}/ (valid until ${ca.notAfter.toISOString().slice(0, 10)})`,
      ...ca.warnings.map((w) => `warning: ${w}`),
      'wrote (mode 0600):',
      ...(ca.created
        ? [
            `  ${show(p.caCert)}   the proxy CA's certificate`,
            `  ${show(p.caKey)}   its private key: it signs every proxy certificate; keep it off the proxies`,
          ]
        : []),
      ...(ca.written.includes(p.truststore)
        ? [`  ${show(p.truststore)}   the CA alone: the truststore of plusgate's forward-auth door`]
        : []),
      `  ${show(issued.certFile)}   ${args.name}'s client certificate (CN=${args.name}, clientAuth, serial ${issued.cert.serial}, valid until ${issued.notAfter.toISOString().slice(0, 10)})${issued.replaced ? ', replacing the previous one' : ''}`,
      `  ${show(issued.keyFile)}   its private key`,
      '',
      'Next:',
      `  the proxy: give it ${show(issued.certFile)} and ${show(issued.keyFile)}; nginx, in the location that asks plusgate`,
      '  (proxy_pass https://<door>/auth/nginx):',
      `      proxy_ssl_certificate      ${path.resolve(issued.certFile)};`,
      `      proxy_ssl_certificate_key  ${path.resolve(issued.keyFile)};`,
      `  AWS: deploy with forwardAuthTruststorePath = ${path.resolve(p.truststore)}`,
      '       (with forwardAuthDomainName and forwardAuthCertificateArn): the door then admits this CA’s proxies only.',
      `  local mode: npm start -- --forward-auth-port 8446 trusts <data dir>/proxy-ca/truststore.pem${path.resolve(args.out) === path.resolve(DEFAULT_PROXY_CA_DIR) ? ' (this folder)' : ''}`,
      '',
    ];
    io.stdout.write(lines.join('\n'));
    return 0;
  } catch (err) {
    if (!(err instanceof ProxyCaError)) throw err;
    io.stderr.write(`proxy-cert: ${err.message}\n`);
    return 1;
  }
}
