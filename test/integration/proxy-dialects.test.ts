/**
 * Forward-auth for Traefik and Envoy (`/auth/traefik`, `/auth/envoy`), with the requests those proxies really
 * send: every header below is built the way the proxy's own source builds it (file and commit above each
 * builder), for the settings of examples/traefik/plusgate.yml and examples/envoy/envoy.yaml, whose structure
 * the first part of this file checks (neither proxy is installed here to run them).
 *
 * Local mode runs in this process (startLocalMode, as bench/hot-path.ts does), on free ports and a copy of
 * the run's test PKI: the requests are written header by header with node:http (curl would add its own),
 * the certificates are at hand for building the headers, and the simulator can be told to fail. The service
 * API and the handlers are the same as under `npm start`.
 */
import { X509Certificate, createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ENV } from '../../functions/config/names';
import { writeDevPki } from '../../local/dev-pki-files';
import { type RunningLocalMode, startLocalMode } from '../../local/local-mode';
import { freePorts } from '../support/processes';
import { testPki } from '../support/test-pki';

jest.setTimeout(90_000);

const REPO = path.resolve(__dirname, '../..');

// js-yaml 3 comes with jest (ts-jest → babel-plugin-istanbul → @istanbuljs/load-nyc-config) and has no types.
const jsYaml = require('js-yaml') as { safeLoad?: (text: string) => unknown; load: (text: string) => unknown };
const parseYaml = (text: string): any => (jsYaml.safeLoad ?? jsYaml.load)(text);

/** The identity headers plusgate answers on an allow, which both examples copy to the application. */
const IDENTITY_HEADERS = ['X-Plusgate-User', 'X-Plusgate-Roles', 'X-Plusgate-Serial'];
/** examples/traefik/plusgate.yml: forwardAuth.authRequestHeaders. */
const TRAEFIK_AUTH_REQUEST_HEADERS = ['X-Forwarded-Tls-Client-Cert'];
/** examples/envoy/envoy.yaml: ext_authz allowed_headers and http_service.path_prefix (local mode). */
const ENVOY_ALLOWED_HEADERS = ['x-forwarded-client-cert', 'x-forwarded-proto'];
const ENVOY_PATH_PREFIX = '/auth/envoy/_';

// ---------------------------------------------------------------------------------------------------------
// The examples
// ---------------------------------------------------------------------------------------------------------

/** The lines that are not YAML comments, and those that are. */
const directives = (text: string) =>
  text
    .split('\n')
    .filter((line) => !line.trim().startsWith('#'))
    .join('\n');
const comments = (text: string) =>
  text
    .split('\n')
    .filter((line) => line.trim().startsWith('#'))
    .join('\n');

/**
 * Replaces every placeholder of the configuration (comments aside): each must be given, each given must be
 * used, and each must be explained in a comment.
 */
function fill(text: string, token: RegExp, values: Record<string, string>): string {
  const used = new Set([...directives(text).matchAll(token)].map((m) => m[1] as string));
  expect([...used].sort()).toEqual(Object.keys(values).sort());
  const explained = new Set([...comments(text).matchAll(token)].map((m) => m[1] as string));
  for (const name of used) expect(explained).toContain(name);
  return text.replace(token, (whole, name: string) => values[name] ?? whole);
}

describe('examples/traefik', () => {
  const TOKEN = /__([A-Z][A-Z_]*[A-Z])__/g;
  let raw: string;
  let dynamic: any;
  let staticConfig: any;

  beforeAll(async () => {
    raw = await readFile(path.join(REPO, 'examples/traefik/plusgate.yml'), 'utf8');
    dynamic = parseYaml(
      fill(raw, TOKEN, {
        PUBLIC_HOST: 'app.example.com',
        SERVER_CERT: '/etc/traefik/tls/app.pem',
        SERVER_KEY: '/etc/traefik/tls/app.key',
        CLIENT_CA: '/etc/traefik/identity-plus-ca.pem',
        PLUSGATE_AUTH_URL: 'http://127.0.0.1:8445/auth/traefik',
        UPSTREAM: 'http://127.0.0.1:3000',
      }),
    );
    staticConfig = parseYaml(
      fill(await readFile(path.join(REPO, 'examples/traefik/traefik.yml'), 'utf8'), TOKEN, {
        LISTEN_ADDRESS: ':443',
        DYNAMIC_FILE: '/etc/traefik/plusgate.yml',
      }),
    );
  });

  it('has no {{ anywhere: Traefik reads a dynamic configuration file as a Go template, comments included', () => {
    expect(raw).not.toMatch(/\{\{|\}\}/);
  });

  it('requires and verifies an Identity Plus client certificate on the router', () => {
    const router = dynamic.http.routers.app;
    expect(router.rule).toBe('Host(`app.example.com`)');
    expect(router.tls.options).toBe('identityplus');
    expect(dynamic.tls.options.identityplus.clientAuth).toEqual({
      caFiles: ['/etc/traefik/identity-plus-ca.pem'],
      clientAuthType: 'RequireAndVerifyClientCert',
    });
    expect(dynamic.tls.certificates).toEqual([
      { certFile: '/etc/traefik/tls/app.pem', keyFile: '/etc/traefik/tls/app.key' },
    ]);
  });

  it('strips client-sent identity headers, then passes the certificate, then asks plusgate, in that order', () => {
    const router = dynamic.http.routers.app;
    expect(router.middlewares).toEqual(['plusgate-strip-client-headers', 'plusgate-client-cert', 'plusgate-auth']);
    expect(dynamic.http.services[router.service].loadBalancer.servers).toEqual([{ url: 'http://127.0.0.1:3000' }]);

    const strip = dynamic.http.middlewares['plusgate-strip-client-headers'].headers.customRequestHeaders;
    // An empty value deletes the header (Traefik's headers middleware, header.go modifyCustomRequestHeaders).
    expect(Object.values(strip).every((v) => v === '')).toBe(true);
    for (const name of [
      ...IDENTITY_HEADERS,
      ...IDENTITY_HEADERS.map((n) => n.replaceAll('-', '_')),
      'X-Plusgate-Decision',
      'X-Plusgate-Reason',
      'X-Plusgate-Signin',
      'X-Client-Cert',
      'X-Forwarded-Client-Cert',
    ])
      expect(strip).toHaveProperty([name], '');

    expect(dynamic.http.middlewares['plusgate-client-cert']).toEqual({ passTLSClientCert: { pem: true } });
  });

  it('asks /auth/traefik with only the certificate header, and copies exactly the identity headers back', () => {
    const auth = dynamic.http.middlewares['plusgate-auth'].forwardAuth;
    expect(auth.address).toBe('http://127.0.0.1:8445/auth/traefik');
    // true: with false, Traefik ≥ v3.6.14 deletes X-Forwarded-Tls-Client-Cert from the auth request
    // (forward.go writeHeader → forwardedheaders.DeleteXForwardedHeaders; XHeadersSet holds that name).
    expect(auth.trustForwardHeader).toBe(true);
    expect(auth.authRequestHeaders).toEqual(TRAEFIK_AUTH_REQUEST_HEADERS);
    expect(auth.authResponseHeaders).toEqual(IDENTITY_HEADERS);
  });

  it('static configuration: an HTTPS entry point that trusts no forwarded headers, and the file provider', () => {
    const entry = staticConfig.entryPoints.websecure;
    expect(entry.address).toBe(':443');
    expect(entry.http.tls).toEqual({});
    expect(entry.forwardedHeaders).toBeUndefined();
    expect(staticConfig.providers.file.filename).toBe('/etc/traefik/plusgate.yml');
  });
});

describe('examples/envoy', () => {
  const TOKEN = /\{\{([A-Z][A-Z_]*[A-Z])\}\}/g;
  let config: any;

  beforeAll(async () => {
    const raw = await readFile(path.join(REPO, 'examples/envoy/envoy.yaml'), 'utf8');
    config = parseYaml(
      fill(raw, TOKEN, {
        LISTEN_PORT: '443',
        PUBLIC_HOST: 'app.example.com',
        SERVER_CERT: '/etc/envoy/tls/app.pem',
        SERVER_KEY: '/etc/envoy/tls/app.key',
        CLIENT_CA: '/etc/envoy/identity-plus-ca.pem',
        PLUSGATE_HOST: '127.0.0.1',
        PLUSGATE_PORT: '8445',
        AUTH_PATH_PREFIX: ENVOY_PATH_PREFIX,
        APP_HOST: '127.0.0.1',
        APP_PORT: '3000',
      }),
    );
  });

  const chain = () => {
    const listeners = config.static_resources.listeners;
    expect(listeners).toHaveLength(1);
    expect(listeners[0].filter_chains).toHaveLength(1);
    return listeners[0].filter_chains[0];
  };
  const hcm = () => {
    const filters = chain().filters;
    expect(filters.map((f: any) => f.name)).toEqual(['envoy.filters.network.http_connection_manager']);
    return filters[0].typed_config;
  };
  const httpFilter = (name: string) => hcm().http_filters.find((f: any) => f.name === name).typed_config;

  it('requires and verifies an Identity Plus client certificate in the TLS handshake', () => {
    const tls = chain().transport_socket.typed_config;
    expect(tls['@type']).toBe('type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext');
    expect(tls.require_client_certificate).toBe(true);
    expect(tls.common_tls_context.validation_context.trusted_ca).toEqual({
      filename: '/etc/envoy/identity-plus-ca.pem',
    });
    expect(tls.common_tls_context.tls_certificates).toEqual([
      {
        certificate_chain: { filename: '/etc/envoy/tls/app.pem' },
        private_key: { filename: '/etc/envoy/tls/app.key' },
      },
    ]);
  });

  it('sets exactly one XFCC element with the certificate, from Envoy itself', () => {
    const manager = hcm();
    expect(manager.forward_client_cert_details).toBe('SANITIZE_SET');
    expect(manager.set_current_client_cert_details).toEqual({ cert: true });
    expect(manager.use_remote_address).toBe(true);
    expect(manager.common_http_protocol_options.headers_with_underscores_action).toBe('DROP_HEADER');
  });

  it('removes client-sent identity headers before ext_authz, and routes to the app after it', () => {
    expect(hcm().http_filters.map((f: any) => f.name)).toEqual([
      'envoy.filters.http.header_mutation',
      'envoy.filters.http.ext_authz',
      'envoy.filters.http.router',
    ]);
    const removed = httpFilter('envoy.filters.http.header_mutation').mutations.request_mutations.map(
      (m: any) => m.remove,
    );
    for (const name of [...IDENTITY_HEADERS, 'X-Plusgate-Decision', 'X-Plusgate-Reason', 'X-Client-Cert'])
      expect(removed).toContain(name.toLowerCase());
    // No route-level removal of the identity headers: the router would remove plusgate's own values.
    expect(JSON.stringify(hcm().route_config)).not.toContain('request_headers_to_remove');
    const vhost = hcm().route_config.virtual_hosts[0];
    expect(vhost.domains).toEqual(['app.example.com']);
    expect(vhost.routes).toEqual([{ match: { prefix: '/' }, route: { cluster: 'app' } }]);
  });

  it('asks the plusgate cluster at /auth/envoy with the certificate and scheme, and copies the identity back', () => {
    const authz = httpFilter('envoy.filters.http.ext_authz');
    expect(authz.http_service.server_uri.cluster).toBe('plusgate');
    expect(authz.http_service.path_prefix).toBe(ENVOY_PATH_PREFIX);
    expect(authz.allowed_headers.patterns.map((p: any) => p.exact)).toEqual(ENVOY_ALLOWED_HEADERS);
    expect(authz.disallowed_headers.patterns.map((p: any) => p.exact)).toEqual(['authorization', 'cookie']);
    expect(authz.http_service.authorization_response.allowed_upstream_headers.patterns).toEqual(
      IDENTITY_HEADERS.map((name) => ({ exact: name.toLowerCase(), ignore_case: true })),
    );
    expect(authz.failure_mode_allow).toBe(false);
    expect(authz.status_on_error).toEqual({ code: 'ServiceUnavailable' });
  });

  it('declares the plusgate and app clusters it uses', () => {
    const clusters = Object.fromEntries(config.static_resources.clusters.map((c: any) => [c.name, c]));
    const address = (name: string) =>
      clusters[name].load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address;
    expect(address('plusgate')).toEqual({ address: '127.0.0.1', port_value: '8445' });
    expect(address('app')).toEqual({ address: '127.0.0.1', port_value: '3000' });
  });
});

// ---------------------------------------------------------------------------------------------------------
// The header shapes, as the proxies build them
// ---------------------------------------------------------------------------------------------------------

const derOf = (pem: string) => Buffer.from(new X509Certificate(pem).raw);

/**
 * A PEM block as both Go's encoding/pem (pem.EncodeToMemory, Traefik) and OpenSSL/BoringSSL's
 * PEM_write_bio_X509 (Envoy) write it: base64 in lines of 64 characters, every line ending in "\n".
 */
function pemBlock(der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
}

/**
 * Traefik's X-Forwarded-Tls-Client-Cert (passTLSClientCert, pem: true):
 * traefik/traefik@fd5a576df2e8aeb0bfc8a96b6ef6e60a61f7ec0a (v3.7.9+), pkg/middlewares/passtlsclientcert/
 * pass_tls_client_cert.go: getCertificates (lines 333-342) takes req.TLS.PeerCertificates (leaf first, as the
 * browser sent them), extractCertificate (344-353) PEM-encodes each, sanitize (324-331) removes
 * "-----BEGIN CERTIFICATE-----", "-----END CERTIFICATE-----" and "\n", and they are joined by certSeparator ",".
 */
function traefikClientCert(chainPem: string[]): string {
  const sanitize = (pem: string) =>
    pem.replaceAll('-----BEGIN CERTIFICATE-----', '').replaceAll('-----END CERTIFICATE-----', '').replaceAll('\n', '');
  return chainPem.map((pem) => sanitize(pemBlock(derOf(pem)))).join(',');
}

/**
 * The same before traefik/traefik@2c550c284d (in v2.9.2; so up to v2.9.1, and Traefik 1): sanitize ended in
 * `return url.QueryEscape(cleaned)`, per certificate; the "," between certificates stayed as it was.
 */
function traefikLegacyClientCert(chainPem: string[]): string {
  return traefikClientCert(chainPem).split(',').map(goQueryEscape).join(',');
}

/** Go's url.QueryEscape: all but A-Z a-z 0-9 - _ . ~ as %XX (upper case), a space as "+". */
function goQueryEscape(value: string): string {
  return [...Buffer.from(value, 'utf8')]
    .map((byte) => {
      const c = String.fromCharCode(byte);
      if (/[A-Za-z0-9\-_.~]/.test(c)) return c;
      if (c === ' ') return '+';
      return `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
    })
    .join('');
}

/** One browser request as Traefik has it when forwardAuth runs. */
interface TraefikBrowserRequest {
  readonly method: string;
  /** req.Host: the site as the browser named it. */
  readonly host: string;
  /** req.URL.RequestURI(): path and query. */
  readonly uri: string;
  /** X-Forwarded-Tls-Client-Cert as passTLSClientCert set it; undefined: not set (no mTLS, or deleted). */
  readonly tlsClientCert?: string;
  /**
   * The browser's own headers that forwardAuth copies too: none with the example's authRequestHeaders; all
   * of them (cookies, a client-sent X-Client-Cert, ...) on a forwardAuth without authRequestHeaders.
   */
  readonly copied?: Record<string, string>;
}

/**
 * The request forwardAuth sends plusgate, with the example's settings (trustForwardHeader: true,
 * authRequestHeaders: [X-Forwarded-Tls-Client-Cert]): traefik/traefik@fd5a576df2e8aeb0bfc8a96b6ef6e60a61f7ec0a,
 * pkg/middlewares/auth/forward.go. ServeHTTP (lines 161-166): GET to the configured address, no body.
 * writeHeader (428-475): the request's headers filtered to authRequestHeaders plus every X-Forwarded-* name
 * (NewForward, 145-149, appends forwardedheaders.XHeadersSet when trustForwardHeader is true), then
 * X-Forwarded-For, -Method, -Proto, -Port, -Host, -Uri where not already set. The entry point had deleted
 * every X-Forwarded-* the browser sent (forwarded_header.go, ServeHTTP and DeleteXForwardedHeaders), so all of
 * these are Traefik's own. Go's HTTP client adds User-Agent and Accept-Encoding; Host is the address's.
 */
function traefikAuthRequest(browser: TraefikBrowserRequest): RawRequest {
  const port = browser.host.includes(':') ? (browser.host.split(':').pop() as string) : '443';
  return {
    method: 'GET',
    path: '/auth/traefik',
    headers: {
      ...browser.copied,
      ...(browser.tlsClientCert === undefined ? {} : { 'X-Forwarded-Tls-Client-Cert': browser.tlsClientCert }),
      'X-Forwarded-For': '203.0.113.7',
      'X-Forwarded-Method': browser.method,
      'X-Forwarded-Proto': 'https',
      'X-Forwarded-Port': port,
      'X-Forwarded-Host': browser.host,
      'X-Forwarded-Uri': browser.uri,
      'User-Agent': 'Go-http-client/1.1',
      'Accept-Encoding': 'gzip',
    },
  };
}

/**
 * Envoy's URL-encoded PEM (the XFCC Cert value): envoyproxy/envoy@63caae89ecdc658d85dce65cfa9a69ed51290b0c,
 * source/common/tls/connection_info_impl_base.cc, urlEncodedPemEncodedPeerCertificate(): PEM_write_bio_X509,
 * then absl::StrReplaceAll with {"\n", "%0A"}, {" ", "%20"}, {"+", "%2B"}, {"/", "%2F"}, {"=", "%3D"}. Nothing
 * else is escaped ("-" stays).
 */
function envoyUrlEncodedPem(pem: string): string {
  const replacements: Record<string, string> = { '\n': '%0A', ' ': '%20', '+': '%2B', '/': '%2F', '=': '%3D' };
  return pemBlock(derOf(pem)).replace(/[\n +/=]/g, (c) => replacements[c] as string);
}

/**
 * One XFCC element as Envoy's HTTP connection manager sets it with forward_client_cert_details: SANITIZE_SET:
 * envoyproxy/envoy source/common/http/conn_manager_utility.cc, mutateXfccRequestHeader (the stored version
 * with Chain and multi-URI support; the index did not name its commit): "By=<URI SAN of Envoy's own
 * certificate>" per URI SAN (none for a plain server certificate), "Hash=<hex SHA-256 of the client
 * certificate>", then the set_current_client_cert_details in the order the HCM config builds them
 * (source/extensions/filters/network/http_connection_manager/config.cc: Cert, Chain, Subject, URI, DNS):
 * Cert="<URL-encoded PEM>", Subject="<RFC 2253 subject>", URI=<URI SAN, empty when none>; joined by ";".
 * SANITIZE_SET replaces the whole header with this one element (setForwardedClientCert).
 */
function envoyXfcc(pem: string, details: { readonly subject?: boolean; readonly uri?: boolean } = {}): string {
  const parts = [`Hash=${createHash('sha256').update(derOf(pem)).digest('hex')}`, `Cert="${envoyUrlEncodedPem(pem)}"`];
  if (details.subject) parts.push(`Subject="${rfc2253Subject(pem)}"`);
  if (details.uri) parts.push('URI=');
  return parts.join(';');
}

/**
 * The subject as OpenSSL's XN_FLAG_RFC2253 prints it (what Envoy puts in Subject="..."): the RDNs in reverse
 * order, joined by ",". Enough for the demo certificates, whose values have no character RFC 2253 escapes.
 */
function rfc2253Subject(pem: string): string {
  const rdns = new X509Certificate(pem).subject.split('\n');
  for (const rdn of rdns) expect(rdn).not.toMatch(/[,+"\\<>;]|^.+=[#\s]|\s$/);
  return rdns.reverse().join(',');
}

/** One browser request as Envoy has it when ext_authz runs. */
interface EnvoyBrowserRequest {
  readonly method: string;
  /** :authority */
  readonly authority: string;
  /** :path, query string included */
  readonly path: string;
  /** x-forwarded-client-cert as the HCM set it (undefined: none) */
  readonly xfcc?: string;
  /** Other headers the check request carries (only to show which ones plusgate must ignore). */
  readonly others?: Record<string, string>;
}

/**
 * The check request ext_authz sends an HTTP authorization service, with the example's settings:
 * envoyproxy/envoy@9c276e34a2eac758d2b06cd74c6b494a208f4fd9, source/extensions/filters/common/ext_authz/
 * ext_authz_http_impl.cc, RawHttpClientImpl::check: Content-Length 0 and no body; every header of the check
 * request that the request matchers allow, ":path" as path_prefix + the original :path (query included).
 * The matchers (toRequestMatchers) are the configured allowed_headers plus Authorization, :method, :path and
 * :authority, so the method is the browser's and Host is the browser's authority; check_request_utils.cc
 * (setHttpRequest) leaves out disallowed_headers (the example's authorization, cookie) first. x-forwarded-proto
 * is the HCM's own: https on a TLS listener with use_remote_address.
 */
function envoyCheckRequest(browser: EnvoyBrowserRequest): RawRequest {
  return {
    method: browser.method,
    path: `${ENVOY_PATH_PREFIX}${browser.path}`,
    headers: {
      host: browser.authority,
      'content-length': '0',
      ...(browser.xfcc === undefined ? {} : { 'x-forwarded-client-cert': browser.xfcc }),
      'x-forwarded-proto': 'https',
      ...browser.others,
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Against local mode
// ---------------------------------------------------------------------------------------------------------

interface RawRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
}

interface Answer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

/** The sites behind the proxies (only names: plusgate builds the URL to come back to from them). */
const TRAEFIK_SITE = 'localhost:9443';
const ENVOY_SITE = 'localhost:10443';

let dataDir: string;
let local: RunningLocalMode | undefined;
let serviceUrl: URL;
let edgeOrigin: string;
let pki: Awaited<ReturnType<typeof testPki>>;

/** Sends exactly `request` to local mode's service API (the Host of the request, if it has one). */
function send(request: RawRequest): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers = { ...request.headers };
    if (!Object.keys(headers).some((name) => name.toLowerCase() === 'host')) headers.Host = serviceUrl.host;
    const req = http.request(
      {
        host: serviceUrl.hostname,
        port: serviceUrl.port,
        method: request.method,
        path: request.path,
        headers,
        agent: false,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

const person = (name: keyof typeof pki.devices) => pki.devices[name];
/** Where plusgate sends the browser to sign in and come back to `original`. */
const signin = (original: string) => `${edgeOrigin}/signin?return=${encodeURIComponent(new URL(original).href)}`;

/** An allow, with the identity headers the examples copy to the application (a failure shows the body). */
function expectAllowed(answer: Answer, user: string, roles: string, serial: string): void {
  expect({ status: answer.status, body: answer.body.slice(0, 300) }).toMatchObject({ status: 200 });
  expect(answer.headers['x-plusgate-user']).toBe(user);
  expect(answer.headers['x-plusgate-roles']).toBe(roles);
  expect(answer.headers['x-plusgate-serial']).toBe(serial);
}

/** A 302 to plusgate's /signin, coming back to `original`; no identity. */
function expectSignin(answer: Answer, original: string): void {
  expect({ status: answer.status, location: answer.headers.location }).toEqual({
    status: 302,
    location: signin(original),
  });
  expect(answer.headers['x-plusgate-user']).toBeUndefined();
}

/** A 403 that names why; no identity. */
function expectDenied(answer: Answer, reason: string | RegExp): void {
  expect({ status: answer.status, reason: answer.headers['x-plusgate-reason'] }).toEqual({
    status: 403,
    reason: typeof reason === 'string' ? reason : expect.stringMatching(reason),
  });
  expect(answer.headers['x-plusgate-user']).toBeUndefined();
}

describe('forward-auth dialects against local mode', () => {
  beforeAll(async () => {
    pki = await testPki();
    dataDir = await mkdtemp(path.join(tmpdir(), 'plusgate-dialects-'));
    await writeDevPki(dataDir, pki);
    const [gatewayPort, simulatorPort, servicePort, dynamodbPort] = await freePorts(4);
    local = await startLocalMode({
      dataDir,
      gatewayPort,
      simulatorPort,
      servicePort,
      dynamodbPort,
      environment: {
        [ENV.ALLOWED_RETURN_ORIGINS]: JSON.stringify([`https://${TRAEFIK_SITE}`, `https://${ENVOY_SITE}`]),
      },
    });
    serviceUrl = new URL(local.serviceUrl);
    edgeOrigin = `https://localhost:${gatewayPort}`;
  });

  afterAll(async () => {
    await local?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  describe('traefik', () => {
    const page = '/app/orders?page=2&sort=desc';
    const original = `https://${TRAEFIK_SITE}${page}`;
    const ask = (tlsClientCert: string | undefined, copied?: Record<string, string>) =>
      send(traefikAuthRequest({ method: 'GET', host: TRAEFIK_SITE, uri: page, tlsClientCert, copied }));

    it('allows alice, with her identity headers', async () => {
      const alice = person('alice');
      expectAllowed(await ask(traefikClientCert([alice.cert])), 'org:org-ref-alice-0001', 'member', alice.serial);
    });

    it('reads the leaf of a chain the browser sent with its intermediate (leaf,intermediate)', async () => {
      const alice = person('alice');
      const value = traefikClientCert([alice.cert, pki.intermediate.cert]);
      expect(value.split(',')).toHaveLength(2);
      expectAllowed(await ask(value), 'org:org-ref-alice-0001', 'member', alice.serial);
    });

    it('reads the query-escaped form of Traefik up to v2.9.1', async () => {
      const alice = person('alice');
      const value = traefikLegacyClientCert([alice.cert, pki.intermediate.cert]);
      expect(value).toMatch(/%2F|%2B|%3D/);
      expectAllowed(await ask(value), 'org:org-ref-alice-0001', 'member', alice.serial);
    });

    it('denies carol (revoked)', async () => {
      expectDenied(await ask(traefikClientCert([person('carol').cert])), 'revoked');
    });

    it('sends bob (needs validation) to sign in and back to the page, query string included', async () => {
      expectSignin(await ask(traefikClientCert([person('bob').cert])), original);
    });

    it('sends a request without X-Forwarded-Tls-Client-Cert to sign in', async () => {
      expectSignin(await ask(undefined), original);
    });

    it("ignores a valid certificate in the other dialects' headers (a forwardAuth without authRequestHeaders copies them)", async () => {
      const alice = person('alice');
      const answer = await ask(undefined, {
        'X-Client-Cert': encodeURIComponent(alice.cert), // nginx's shape
        'X-Forwarded-Client-Cert': envoyXfcc(alice.cert), // Envoy's
        'X-Original-URL': 'https://localhost:9443/elsewhere',
        Cookie: 'session=abc',
      });
      expectSignin(answer, original);
    });

    it('refuses a chain whose first certificate is a CA', async () => {
      expectDenied(await ask(traefikClientCert([pki.intermediate.cert, person('alice').cert])), 'invalid-certificate');
    });

    it('refuses what is not base64 DER, a certificate of another CA and an expired one, never with a 5xx', async () => {
      for (const value of [
        'not base64!',
        '%E0%A4%A',
        Buffer.from('not a certificate').toString('base64'),
        pemBlock(derOf(person('alice').cert)).replaceAll('\n', ''), // delimiters: not what Traefik sends
        traefikClientCert([person('mallory').cert]),
        traefikClientCert([person('frank').cert]),
      ]) {
        const answer = await ask(value);
        expect({ value: value.slice(0, 40), status: answer.status }).toEqual({
          value: value.slice(0, 40),
          status: 403,
        });
        expectDenied(answer, 'invalid-certificate');
      }
    });
  });

  describe('envoy', () => {
    const ask = (browser: Partial<EnvoyBrowserRequest> & { readonly path: string }) =>
      send(envoyCheckRequest({ method: 'GET', authority: ENVOY_SITE, ...browser }));

    it('allows alice, with her identity headers (the example: Hash and Cert)', async () => {
      const alice = person('alice');
      expectAllowed(
        await ask({ path: '/app/orders', xfcc: envoyXfcc(alice.cert) }),
        'org:org-ref-alice-0001',
        'member',
        alice.serial,
      );
    });

    it('allows alice with Subject and URI in the element too, and for any method', async () => {
      const alice = person('alice');
      const xfcc = envoyXfcc(alice.cert, { subject: true, uri: true });
      expect(xfcc).toMatch(
        /^Hash=[0-9a-f]{64};Cert="-----BEGIN%20CERTIFICATE-----%0A.+";Subject="CN=Alice's Laptop,.+";URI=$/,
      );
      for (const method of ['GET', 'POST', 'DELETE'])
        expectAllowed(
          await ask({ method, path: '/app/orders', xfcc }),
          'org:org-ref-alice-0001',
          'member',
          alice.serial,
        );
    });

    it('denies carol (revoked)', async () => {
      expectDenied(await ask({ path: '/app', xfcc: envoyXfcc(person('carol').cert) }), 'revoked');
    });

    it('sends bob to sign in and back to the page: path and query string after the prefix', async () => {
      const answer = await ask({ path: '/app/orders?page=2&sort=desc', xfcc: envoyXfcc(person('bob').cert) });
      expectSignin(answer, `https://${ENVOY_SITE}/app/orders?page=2&sort=desc`);
    });

    it("answers for the site's root page, whose check path is the prefix and a slash (/auth/envoy/_/)", async () => {
      const alice = person('alice');
      expectAllowed(
        await ask({ path: '/', xfcc: envoyXfcc(alice.cert) }),
        'org:org-ref-alice-0001',
        'member',
        alice.serial,
      );
      expectSignin(await ask({ path: '/', xfcc: envoyXfcc(person('bob').cert) }), `https://${ENVOY_SITE}/`);
    });

    it('keeps every query parameter of the page asked for', async () => {
      const page = '/search?q=a%20b&tag=x&empty=&tag=y&plus=1%2B1';
      const answer = await ask({ path: page, xfcc: envoyXfcc(person('bob').cert) });
      expect(answer.status).toBe(302);
      const back = new URL(new URL(answer.headers.location as string).searchParams.get('return') as string);
      const pairs = (params: URLSearchParams) =>
        [...params].sort(([a, x], [b, y]) => a.localeCompare(b) || x.localeCompare(y));
      expect(back.origin + back.pathname).toBe(`https://${ENVOY_SITE}/search`);
      expect(pairs(back.searchParams)).toEqual(pairs(new URL(page, 'https://x').searchParams));
    });

    it('sends a request without x-forwarded-client-cert to sign in', async () => {
      expectSignin(await ask({ path: '/app' }), `https://${ENVOY_SITE}/app`);
    });

    it("ignores a valid certificate in the other dialects' headers", async () => {
      const alice = person('alice');
      const answer = await ask({
        path: '/app',
        others: {
          'x-forwarded-tls-client-cert': traefikClientCert([alice.cert]),
          'x-client-cert': encodeURIComponent(alice.cert),
        },
      });
      expectSignin(answer, `https://${ENVOY_SITE}/app`);
    });

    it('refuses two XFCC elements (a proxy in front that appended), and a Cert that is not a URL-encoded PEM', async () => {
      const alice = envoyXfcc(person('alice').cert);
      for (const xfcc of [
        `${alice},${envoyXfcc(person('carol').cert)}`,
        `${alice},${alice}`,
        'Hash=00;Cert="%E0%A4%A"',
        'Hash=00;Cert="bm90IGEgY2VydGlmaWNhdGU="',
        `Hash=00;Cert="${envoyUrlEncodedPem(pki.intermediate.cert)}"`,
        envoyXfcc(person('mallory').cert),
      ]) {
        const answer = await ask({ path: '/app', xfcc });
        expect({ xfcc: xfcc.slice(0, 60), status: answer.status }).toEqual({ xfcc: xfcc.slice(0, 60), status: 403 });
        expectDenied(answer, 'invalid-certificate');
      }
    });
  });

  describe('when Identity Plus cannot answer', () => {
    afterEach(() => local?.simulator?.setFault({ mode: 'none' }));

    it('answers 503 with Retry-After in both dialects (a certificate no cache knows yet)', async () => {
      local?.simulator?.setFault({ mode: 'http500' });
      const traefik = await send(
        traefikAuthRequest({
          method: 'GET',
          host: TRAEFIK_SITE,
          uri: '/',
          tlsClientCert: traefikClientCert([person('erin').cert]),
        }),
      );
      const envoy = await send(
        envoyCheckRequest({ method: 'GET', authority: ENVOY_SITE, path: '/app', xfcc: envoyXfcc(person('dave').cert) }),
      );
      for (const answer of [traefik, envoy]) {
        expect({ status: answer.status, retryAfter: answer.headers['retry-after'], body: answer.body }).toEqual({
          status: 503,
          retryAfter: expect.stringMatching(/^\d+$/),
          body: expect.any(String),
        });
        expect(answer.headers['x-plusgate-user']).toBeUndefined();
      }
      local?.simulator?.setFault({ mode: 'none' });
      const erin = person('erin');
      expectAllowed(
        await send(
          envoyCheckRequest({ method: 'GET', authority: ENVOY_SITE, path: '/app', xfcc: envoyXfcc(erin.cert) }),
        ),
        'local:erin-local',
        'member,org. administrator',
        erin.serial,
      );
    });
  });
});
