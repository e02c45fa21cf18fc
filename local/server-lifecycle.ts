/**
 * Starting and stopping the loopback servers of local mode (gateway, simulator, emulators), and what they
 * share about requests: reading bodies, and telling a request addressed to loopback from one a
 * DNS-rebinding page sent (its Host is the attacker's name, even though it reached 127.0.0.1).
 */
import type { IncomingMessage, Server } from 'node:http';

/** Listens on `host:port` (0 = a free port); rejects with the listen error (e.g. EADDRINUSE). */
export function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** Stops listening and closes every connection, idle keep-alive ones included, so the process can exit. */
export function close(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise<void>((resolve) => server.close(() => resolve()));
}

/**
 * Reads a request body of at most `max` bytes. Never hangs: a client that goes away mid-body gives
 * 'aborted'. A body over the limit is drained (up to twice the limit) so the client still receives the
 * 413, then 'too-large'.
 */
export function readBody(req: IncomingMessage, max: number): Promise<Buffer | 'too-large' | 'aborted'> {
  const drainLimit = 2 * max + 1024 * 1024;
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = Number(req.headers['content-length'] ?? 0) > max;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) tooLarge = true;
      if (!tooLarge) chunks.push(chunk);
      else if (size > drainLimit) req.destroy();
    });
    req.on('end', () => resolve(tooLarge ? 'too-large' : Buffer.concat(chunks, size)));
    req.on('error', () => resolve('aborted'));
    req.on('close', () => resolve('aborted'));
  });
}

/** The loopback names local mode answers to (a Host header may add a port). */
export const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]'] as const;

// host [":" port], host being a bracketed IPv6 literal or a name without colons or brackets.
const HOST_HEADER = /^(\[[0-9a-f:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/;

/**
 * Every value a request carries for one header (`name` in lower case), from the raw headers: Node's
 * `req.headers` keeps only the first Host or Authorization of a repeated one, so a check on it could see
 * another value than the next hop does.
 */
export function headerValues(req: IncomingMessage, name: string): string[] {
  const values: string[] = [];
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if (raw[i]?.toLowerCase() === name) values.push(raw[i + 1] ?? '');
  }
  return values;
}

/**
 * Whether a Host header value names loopback: `localhost`, `127.0.0.1` or `[::1]` (case-insensitive), with
 * or without a port, or one of `extraNames` the server itself advertises.
 */
export function isLoopbackHost(host: string, extraNames: readonly string[] = []): boolean {
  const match = HOST_HEADER.exec(host.toLowerCase());
  const name = match?.[1];
  if (name === undefined || Number(match?.[2] ?? 0) > 65535) return false;
  return (LOOPBACK_NAMES as readonly string[]).includes(name) || extraNames.some((n) => n.toLowerCase() === name);
}
