/** HTTP plumbing shared by the simulator's server and its admin routes: reading bodies, sending answers. */
import type { IncomingMessage, ServerResponse } from 'node:http';
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
