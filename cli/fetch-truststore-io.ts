/**
 * The input and output of `npm run fetch-truststore` (cli/fetch-truststore.ts): the download over mutual TLS
 * with its limits, the atomic write of the checked truststore, and the PKCS#12 password prompt.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { Agent } from 'undici';
import type { SecureContext } from 'node:tls';
import { buildApiConnector } from '../functions/adapters/identity-plus-credentials';
import { LocalFailure, toIdentityPlusError } from '../functions/adapters/identity-plus-transport-errors';
import { terminalSafe } from '../functions/domain/report-formats';
import { checkTruststoreFile, oneLine, type TruststorePem } from '../lib/truststore-pem';

/** Connect (TCP + TLS) within 5 s, the whole answer within 20 s, at most 1 MB. */
export const FETCH_LIMITS = { connectTimeoutMs: 5_000, totalTimeoutMs: 20_000, maxAnswerBytes: 1024 * 1024 };

/** The download or its checks failed: one line on stderr, exit 1, nothing written. */
export class FetchTruststoreError extends Error {
  override name = 'FetchTruststoreError';
}

/** Nothing answers at the address (connection refused): local mode may start a simulator. */
export class RefusedError extends FetchTruststoreError {}

/** GET over mutual TLS (server always verified); the body as text, or FetchTruststoreError. Exported for tests. */
export async function downloadTrustChain(
  url: URL,
  secureContext: SecureContext,
  limits: typeof FETCH_LIMITS = FETCH_LIMITS,
): Promise<string> {
  const deadline = AbortSignal.timeout(limits.totalTimeoutMs);
  const connect = buildApiConnector(
    secureContext,
    { connectTimeoutMs: limits.connectTimeoutMs, undiciTimeoutMs: limits.connectTimeoutMs + 1000 },
    () => undefined,
  );
  const agent = new Agent({
    connect,
    pipelining: 0,
    headersTimeout: limits.totalTimeoutMs,
    bodyTimeout: limits.totalTimeoutMs,
  });
  let responseStarted = false;
  try {
    const response = await agent.request({
      origin: url.origin,
      path: `${url.pathname}${url.search}`,
      method: 'GET',
      headers: { accept: 'application/x-pem-file, text/plain;q=0.9, */*;q=0.1', 'user-agent': 'plusgate' },
      signal: deadline,
    });
    responseStarted = true;
    const length = Number(response.headers['content-length'] ?? 0);
    if (response.statusCode !== 200) {
      const body = length > limits.maxAnswerBytes ? '' : await readCapped(response.body, 4096).catch(() => '');
      const words = oneLine(terminalSafe(body).replace(/\s+/g, ' ').trim()).slice(0, 200);
      throw new FetchTruststoreError(
        `${url.host} answered HTTP ${response.statusCode}${redirect(response.headers.location)}${words ? `: ${words}` : ''}; nothing was written`,
      );
    }
    if (length > limits.maxAnswerBytes) throw new LocalFailure('too-large');
    return await readCapped(response.body, limits.maxAnswerBytes);
  } catch (err) {
    if (err instanceof FetchTruststoreError) throw err;
    const reason = err instanceof LocalFailure ? err : deadline.aborted ? new LocalFailure('deadline') : err;
    const message = toIdentityPlusError(reason, {
      host: url.host,
      connectTimeoutMs: limits.connectTimeoutMs,
      answerTimeoutMs: limits.totalTimeoutMs,
      deadlineMs: limits.totalTimeoutMs,
      maxAnswerBytes: limits.maxAnswerBytes,
      retried: false,
      responseStarted,
    }).message;
    const refused = (reason as { code?: unknown } | null)?.code === 'ECONNREFUSED'; // no instanceof: other realms
    const hint = /^The TLS handshake/.test(message)
      ? ' (the server certificate must chain to a system root, or to --extra-ca)'
      : '';
    throw new (refused ? RefusedError : FetchTruststoreError)(
      `${message.replace(/\.$/, '')}${hint}; nothing was written`,
    );
  } finally {
    // destroy, not close: close would wait for an answer we stopped reading (a huge or slow one).
    await agent.destroy().catch(() => undefined);
  }
}

function redirect(location: string | string[] | undefined): string {
  if (typeof location !== 'string') return '';
  return ` (a redirect to ${terminalSafe(location.slice(0, 200))}, not followed: give that address with --url if you trust it)`;
}

async function readCapped(body: AsyncIterable<Buffer> & { destroy?: () => void }, max: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > max) {
      body.destroy?.();
      throw new LocalFailure('too-large');
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Refuses early what writeAtomically would refuse: a symlink, a non-file, an existing file without --force. */
export async function checkTarget(out: string, force: boolean): Promise<void> {
  const folder = path.dirname(out);
  const parent = await fs.stat(folder).catch(() => undefined);
  if (!parent?.isDirectory()) throw new FetchTruststoreError(`--out ${out}: the folder ${folder} does not exist`);
  const existing = await fs.lstat(out).catch(() => undefined);
  if (existing === undefined) return;
  if (existing.isSymbolicLink()) {
    throw new FetchTruststoreError(
      `--out ${out} is a symbolic link; refusing to write through it (give the real path)`,
    );
  }
  if (!existing.isFile()) throw new FetchTruststoreError(`--out ${out} exists and is not a regular file`);
  if (!force) throw new FetchTruststoreError(`--out ${out} already exists; use --force to replace it`);
}

/**
 * Writes a new file beside `out` (random name, created exclusively) and, once it holds exactly the checked
 * PEM, moves it into place: a hard link for a new file (fails if anything appeared there meanwhile), a
 * rename with --force (which replaces a link itself, never its target). Readers see no half-written file.
 */
export async function writeAtomically(out: string, truststore: TruststorePem, force: boolean): Promise<void> {
  await checkTarget(out, force);
  const temporary = path.join(path.dirname(out), `.${path.basename(out)}.${randomBytes(8).toString('hex')}.tmp`);
  try {
    await fs.writeFile(temporary, truststore.pem, { flag: 'wx', mode: 0o644 });
    await fs.chmod(temporary, 0o644); // the umask may have taken bits away
    checkTruststoreFile(temporary, truststore);
    if (force) await fs.rename(temporary, out);
    else await fs.link(temporary, out);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new FetchTruststoreError(`--out ${out} appeared while writing; nothing was replaced`);
    throw new FetchTruststoreError(`--out ${out}: cannot be written (${code ?? (err as Error).message})`);
  } finally {
    await fs.rm(temporary, { force: true });
  }
}

/**
 * Reads the PKCS#12 password: from a terminal, with a prompt on `output` and without echo; from a pipe,
 * its first line. Never echoes or returns more than that line.
 */
export function readPasswordLine(
  input: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown },
  output: { write(text: string): unknown },
): Promise<string> {
  const tty = input.isTTY === true && typeof input.setRawMode === 'function';
  return new Promise((resolve, reject) => {
    let typed = '';
    const finish = (error?: Error) => {
      input.removeListener('data', onData);
      input.removeListener('end', onEnd);
      if (tty) {
        input.setRawMode?.(false);
        output.write('\n');
      }
      input.pause();
      if (error) reject(error);
      else resolve(typed);
    };
    const onEnd = () => finish();
    const onData = (chunk: Buffer | string) => {
      for (const char of String(chunk)) {
        if (char === '\n' || char === '\r') return finish();
        if (tty && char === '\u0003') return finish(new FetchTruststoreError('cancelled at the password prompt'));
        if (tty && (char === '\u007f' || char === '\b')) typed = typed.slice(0, -1);
        else typed += char;
      }
    };
    if (tty) {
      output.write('PKCS#12 password: ');
      input.setRawMode?.(true);
    }
    input.on('data', onData);
    input.once('end', onEnd);
    input.resume();
  });
}
