/**
 * What the proxy tests and the nginx benchmark put around a real proxy: nginx's main configuration, the
 * application behind the proxy (echoing what it was told), and a recording hop where AWS's SigV4-signing
 * proxy would sit between the proxy and plusgate.
 */
import { type IncomingHttpHeaders, type Server, createServer, request } from 'node:http';

/** One request the hop passed on to plusgate. */
export interface HopRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  bodyBytes: number;
}

/** A minimal nginx main configuration around `servers`, everything nginx writes kept under `dir`. */
export function nginxMainConfig(dir: string, servers: readonly string[]): string {
  const temps = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map(
    (kind) => `  ${kind}_temp_path ${dir}/${kind};`,
  );
  return [
    'daemon off;',
    // As root, nginx's workers would otherwise run as nobody, who cannot read the (0700) temporary folder.
    process.getuid?.() === 0 ? 'user root;' : '',
    'worker_processes 1;',
    `pid ${dir}/nginx.pid;`,
    'error_log stderr warn;',
    'events { worker_connections 1024; }',
    'http {',
    '  access_log off;',
    ...temps,
    ...servers,
    '}',
    '',
  ].join('\n');
}

/** Listens on 127.0.0.1:`port`; resolves with the server once it does. */
async function listening(server: Server, port: number): Promise<Server> {
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return server;
}

/**
 * The hop between the proxy and plusgate (the SigV4-signing proxy's place in AWS): records each request in
 * `seen`, then passes it on to 127.0.0.1:`targetPort` and the answer back.
 */
export function startRecordingHop(port: number, targetPort: number, seen: HopRequest[]): Promise<Server> {
  const hop = createServer((req, res) => {
    const record: HopRequest = {
      method: req.method ?? '',
      url: req.url ?? '',
      headers: { ...req.headers },
      bodyBytes: 0,
    };
    seen.push(record);
    req.on('data', (chunk: Buffer) => {
      record.bodyBytes += chunk.length;
    });
    const onward = request(
      { host: '127.0.0.1', port: targetPort, path: req.url, method: req.method, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    onward.on('error', () => res.writeHead(502).end());
    req.pipe(onward);
  });
  return listening(hop, port);
}

const IDENTITY = new Set(['x-plusgate-user', 'x-plusgate-roles', 'x-plusgate-serial']);

/**
 * The application behind the proxy: answers JSON with what it was told about the caller (`user`, `roles`,
 * `serial`) and `passedOn`, every other header name that `suspicious` flags (a forged identity or
 * certificate header the proxy should have removed). `onRequest` sees each request's URL.
 */
export function startEchoApp(
  port: number,
  suspicious: (name: string) => boolean,
  onRequest: (url: string) => void = () => undefined,
): Promise<Server> {
  const app = createServer((req, res) => {
    onRequest(req.url ?? '');
    res.setHeader('content-type', 'application/json');
    const h = req.headers;
    res.end(
      JSON.stringify({
        path: req.url,
        method: req.method,
        user: h['x-plusgate-user'] ?? null,
        roles: h['x-plusgate-roles'] ?? null,
        serial: h['x-plusgate-serial'] ?? null,
        passedOn: Object.keys(h).filter((name) => suspicious(name) && !IDENTITY.has(name)),
      }),
    );
  });
  return listening(app, port);
}
