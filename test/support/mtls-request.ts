/** One HTTPS request over mutual TLS on a fresh connection, for tests that talk to a loopback server directly. */
import type { IncomingHttpHeaders } from 'node:http';
import https from 'node:https';

export interface Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly text: string;
}

export interface ClientCert {
  readonly cert: string;
  readonly key: string;
}

/**
 * Sends `method url` with no pooling (each call has its own TLS handshake), trusting `ca`, presenting `client`
 * when given (null: no client certificate), with `body` as JSON and an explicit length (Node frames no body
 * on GET otherwise).
 */
export function mtlsRequest(
  method: string,
  url: string,
  options: { body?: string; client: ClientCert | null; ca: string },
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      {
        method,
        agent: false,
        ca: options.ca,
        ...(options.client ? { cert: options.client.cert, key: options.client.key } : {}),
        headers:
          options.body === undefined
            ? {}
            : { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(options.body) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}
