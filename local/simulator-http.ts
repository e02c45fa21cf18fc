/** HTTP plumbing shared by the simulator's server and its admin routes: reading bodies, sending answers. */
import { lookup } from 'node:dns/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { readBody } from './server-lifecycle';
import type { SimulatorPage } from './simulator-pages';

/** The request body is over the limit; the rest of it was drained so a 413 can still be read. */
export class BodyTooLargeError extends Error {}

/** The client left mid-body: nothing to answer. */
export class ClientGoneError extends Error {}

/** The body, or BodyTooLargeError / ClientGoneError. */
export async function readBodyOrThrow(req: IncomingMessage, limit: number): Promise<Buffer> {
  const body = await readBody(req, limit);
  if (body === 'too-large') throw new BodyTooLargeError();
  if (body === 'aborted') throw new ClientGoneError();
  return body;
}

/**
 * The body; over the limit, answers 413 with `tooLarge` as JSON, closes the connection and gives undefined.
 * ClientGoneError when the client left mid-body.
 */
export async function readBodyOr413(
  req: IncomingMessage,
  res: ServerResponse,
  limit: number,
  tooLarge: unknown,
): Promise<Buffer | undefined> {
  try {
    return await readBodyOrThrow(req, limit);
  } catch (err) {
    if (!(err instanceof BodyTooLargeError)) throw err;
    res.setHeader('Connection', 'close');
    sendJson(res, 413, tooLarge);
    return undefined;
  }
}

/** A JSON answer, never cached. */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
  });
  res.end(text);
}

/** A plain-text answer; when headers already went out, the connection is cut instead. */
export function sendText(res: ServerResponse, status: number, text: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

/** A sign-on page, never cached. */
export function sendPage(res: ServerResponse, page: SimulatorPage): void {
  res.writeHead(page.status, {
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Length': Buffer.byteLength(page.html),
    'Cache-Control': 'no-store',
  });
  res.end(page.html);
}

/** 405 with the methods that are allowed (JSON, for the admin API). */
export function methodNotAllowed(res: ServerResponse, allow: string): void {
  res.setHeader('Allow', allow);
  sendJson(res, 405, { error: `Method not allowed; use ${allow}.` });
}

/** `localhost` when it resolves only to the address we listen on (nicer for browsers), else the address. */
export async function chooseUrlHost(host: string): Promise<string> {
  if (host === '127.0.0.1' || host === '0.0.0.0') {
    try {
      const addresses = await lookup('localhost', { all: true });
      if (addresses.length > 0 && addresses.every((a) => a.address === '127.0.0.1')) return 'localhost';
    } catch {
      // no resolver answer: fall back to the literal address
    }
    return '127.0.0.1';
  }
  return host.includes(':') ? `[${host}]` : host;
}

export function pathOf(url: string | undefined): string {
  const raw = url ?? '/';
  const query = raw.indexOf('?');
  return query === -1 ? raw : raw.slice(0, query);
}

/** Serial of the TLS peer's certificate, decimal. */
export function peerSerial(req: IncomingMessage): string | undefined {
  const hex = (req.socket as TLSSocket).getPeerCertificate?.()?.serialNumber;
  if (typeof hex !== 'string' || !/^[0-9a-fA-F]+$/.test(hex)) return undefined;
  return BigInt(`0x${hex}`).toString(10);
}
