/**
 * Inputs of the identity operations' fuzz property (test/unit/fuzz/identity-ops-app.fuzz.test.ts): requests to
 * PUT /bindings, DELETE /bindings/{localUserId}, POST /intrusions and DELETE /intrusions/{reference} (and
 * near misses: other methods, resources and path parameters), bodies meant for them or not, hostile headers,
 * and what Identity Plus answers each call: a well-formed OK, any outcome in any envelope, a hostile
 * reference, garbage, or a failure of the client (IdentityPlusError).
 *
 * Plain data, like test/support/fuzz-inputs.ts (certificates by name), so a counterexample reads and replays.
 */
import type { APIGatewayProxyEvent } from 'aws-lambda';
import fc from 'fast-check';
import { IdentityPlusError, type IdentityPlusFailureKind } from '../../functions/domain/errors';
import type { IdentityOperation } from '../../functions/domain/identity-operations';
import { INTRUSION_SEVERITIES } from '../../functions/domain/identity-plus';
import { buildProxyEvent } from '../../local/api-gateway-event';
import {
  type CertName,
  type CertSpec,
  type FuzzPki,
  INTERNAL_MARKER,
  type SerialSpec,
  anyText,
  certPem,
  certSerial,
  certainlyRefused,
  certSpec,
  sentCert,
  serialSpec,
  serialString,
  serialSubject,
  tainted,
} from './fuzz-inputs';
import { type ScriptedReply, identityAnswers, okReply } from './identity-ops-doubles';

/** The four routes: resource, method, operation and path parameter. */
export const IDENTITY_OPS_ROUTES = [
  { resource: '/bindings', method: 'PUT', operation: 'bind', parameter: undefined },
  { resource: '/bindings/{localUserId}', method: 'DELETE', operation: 'unbind', parameter: 'localUserId' },
  { resource: '/intrusions', method: 'POST', operation: 'report-intrusion', parameter: undefined },
  { resource: '/intrusions/{reference}', method: 'DELETE', operation: 'withdraw-intrusion', parameter: 'reference' },
] as const satisfies ReadonlyArray<{
  resource: string;
  method: string;
  operation: IdentityOperation;
  parameter: string | undefined;
}>;
export type IdentityOpsRoute = (typeof IDENTITY_OPS_ROUTES)[number];

/** The route of a resource, when it is one of the four. */
export function routeOf(resource: string): IdentityOpsRoute | undefined {
  return IDENTITY_OPS_ROUTES.find((route) => route.resource === resource);
}

// --------------------------------------------------------------------------------------- values

/** Local user ids and references: fine ones, edges and hostile ones. */
export const pathText: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.constantFrom('user-1', 'alice@example.com', 'Zoë Ärger', 'R-17', 'R-2026-0001', '~!$&()*+,;=:@'),
  },
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      '',
      ' ',
      '/',
      'a/b',
      '..',
      '%2F',
      'a%00b',
      ' user-1',
      'user-1 ',
      'a\r\nSet-Cookie: x=1',
      'a\u0000b',
      '\u001b[2J',
      'a\u0085b',
      '\ud800',
      'bob\u{1F600}',
      '\u202Eevil',
      'x'.repeat(128),
      'x'.repeat(129),
      'x'.repeat(256),
      'x'.repeat(257),
      'x'.repeat(10_000),
      '__proto__',
      'constructor',
    ),
  },
  { weight: 2, arbitrary: tainted() },
  { weight: 1, arbitrary: anyText(300) },
);

const jsonish = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom<unknown>(true, false, null, 0, -1, 1e308, '', [], {}, ['x']),
  tainted(),
);

const SEVERITY_SPELLINGS = INTRUSION_SEVERITIES.flatMap((s) => [
  s,
  s.toUpperCase(),
  s.replace(/ /g, '-'),
  s.replace(/ /g, '_'),
  ` ${s.replace(/ /g, '--')} `,
]);
const severity = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...SEVERITY_SPELLINGS) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      'spam',
      'policyviolation',
      'policy.violation',
      '',
      ' ',
      'fraud\u0000',
      'FRAUD\n',
      '__proto__',
    ),
  },
  { weight: 1, arbitrary: jsonish },
);

const message = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('tried /admin 40 times', 'chargeback', 'x') },
  { weight: 2, arbitrary: fc.constantFrom('', '   ', 'm'.repeat(2000), 'm'.repeat(2001), '\u00e9'.repeat(2000)) },
  { weight: 2, arbitrary: tainted(anyText(200)) },
  { weight: 1, arbitrary: jsonish },
);

const ip = fc.oneof(
  fc.ipV4(),
  fc.ipV6(),
  fc.constantFrom('localhost', '1.2.3.4 ', '999.1.1.1', '', '::ffff:1.2.3.4', 'fe80::1%eth0'),
  jsonish,
);

const url = fc.oneof(
  fc.constantFrom(
    'https://app.example.com/admin',
    'http://app.example.com/',
    '/relative',
    'javascript:alert(1)',
    'data:text/html,<x-fuzz>',
    'https://',
    `https://app.example.com/${'a'.repeat(2100)}`,
    'https://user:pass@evil.example/',
  ),
  fc.webUrl(),
  jsonish,
);

// --------------------------------------------------------------------------------------- bodies

/** A body field's value: a certificate or serial by name, or JSON. */
export type FieldValue = { readonly cert: CertSpec } | { readonly serial: SerialSpec } | { readonly json: unknown };

/** A request body. */
export type OpsBody =
  | { readonly kind: 'fields'; readonly fields: ReadonlyArray<readonly [string, FieldValue]> }
  | { readonly kind: 'raw'; readonly text: string }
  | { readonly kind: 'huge'; readonly bytes: number; readonly wide: boolean }
  | { readonly kind: 'none' };

const device = fc.oneof(
  sentCert.map((cert) => ['certificate', { cert }] as const),
  serialSpec.map((serial) => ['serial', { serial }] as const),
);
const asJson = (value: fc.Arbitrary<unknown>) => value.map((json): FieldValue => ({ json }));

const anyField: fc.Arbitrary<readonly [string, FieldValue]> = fc
  .oneof(
    {
      weight: 6,
      arbitrary: fc.constantFrom('certificate', 'serial', 'localUserId', 'severity', 'message', 'ip', 'url'),
    },
    { weight: 2, arbitrary: fc.constantFrom('__proto__', 'constructor', 'toString', 'Serial', 'reference', '') },
    { weight: 1, arbitrary: tainted() },
  )
  .chain((key) => {
    const value: fc.Arbitrary<FieldValue> =
      key === 'certificate'
        ? fc.oneof(
            certSpec.map((cert): FieldValue => ({ cert })),
            asJson(jsonish),
          )
        : key === 'serial'
          ? fc.oneof(
              serialSpec.map((serial): FieldValue => ({ serial })),
              asJson(jsonish),
            )
          : key === 'localUserId'
            ? asJson(fc.oneof(pathText, jsonish))
            : key === 'severity'
              ? asJson(severity)
              : key === 'message'
                ? asJson(message)
                : key === 'ip'
                  ? asJson(ip)
                  : key === 'url'
                    ? asJson(url)
                    : asJson(jsonish);
    return value.map((v) => [key, v] as const);
  });

/** What a caller means to send to PUT /bindings, then maybe something more. */
const bindFields = fc
  .tuple(device, asJson(pathText), fc.array(anyField, { maxLength: 1 }))
  .map(([main, id, rest]) => [main, ['localUserId', id] as const, ...rest]);

/** What a caller means to send to POST /intrusions, then maybe something more. */
const reportFields = fc
  .tuple(
    device,
    asJson(severity),
    asJson(message),
    fc.option(asJson(ip), { nil: undefined }),
    fc.option(asJson(url), { nil: undefined }),
    fc.array(anyField, { maxLength: 1 }),
  )
  .map(([main, sev, msg, ipValue, urlValue, rest]) => [
    main,
    ['severity', sev] as const,
    ['message', msg] as const,
    ...(ipValue ? [['ip', ipValue] as const] : []),
    ...(urlValue ? [['url', urlValue] as const] : []),
    ...rest,
  ]);

/** A certificate of the truststore, or a serial in a form plusgate reads. */
const goodDevice = fc.oneof(
  fc
    .constantFrom<CertName>('alice', 'bob', 'carol', 'erin', 'dave', 'hostile')
    .map((name) => ['certificate', { cert: { kind: 'cert', name } }] as const),
  fc
    .record({
      kind: fc.constant('of' as const),
      name: fc.constantFrom<CertName>('alice', 'bob', 'dave', 'mallory', 'frank'),
      form: fc.constantFrom('decimal' as const, '0x' as const, 'colon' as const),
    })
    .map((serial) => ['serial', { serial }] as const),
);
const goodId = fc.oneof(
  fc.constantFrom('user-1', 'alice@example.com', 'Zoë Ärger', 'bob\u{1F600}', 'x'.repeat(128)),
  fc.stringMatching(/^[A-Za-z0-9@._-]{1,40}$/),
);
const goodMessage = fc.oneof(fc.constantFrom('tried /admin 40 times', 'm'.repeat(2000)), tainted(anyText(100)));

/** A request PUT /bindings takes, as a caller who means well sends it. */
const goodBind = fc
  .tuple(goodDevice, goodId)
  .map(([main, id]) => ({ kind: 'fields' as const, fields: [main, ['localUserId', { json: id }] as const] }));

/** A request POST /intrusions takes, as a caller who means well sends it. */
const goodReport = fc
  .tuple(
    goodDevice,
    fc.constantFrom(...SEVERITY_SPELLINGS),
    goodMessage,
    fc.option(fc.oneof(fc.ipV4(), fc.ipV6()), { nil: undefined }),
    fc.option(fc.constantFrom('https://app.example.com/admin', 'http://app.example.com/?q=<x-fuzz>'), {
      nil: undefined,
    }),
  )
  .map(([main, sev, msg, ipValue, urlValue]) => ({
    kind: 'fields' as const,
    fields: [
      main,
      ['severity', { json: sev }] as const,
      ['message', { json: msg }] as const,
      ...(ipValue === undefined ? [] : [['ip', { json: ipValue }] as const]),
      ...(urlValue === undefined ? [] : [['url', { json: urlValue }] as const]),
    ],
  }));

/** A body for `resource`: mostly what its route takes, well meant or hostile; anything now and then. */
export function opsBodyFor(resource: string): fc.Arbitrary<OpsBody> {
  const operation = routeOf(resource)?.operation;
  if (operation === 'bind')
    return fc.oneof(
      { weight: 4, arbitrary: goodBind },
      { weight: 4, arbitrary: fc.record({ kind: fc.constant('fields' as const), fields: bindFields }) },
      { weight: 2, arbitrary: opsBody },
    );
  if (operation === 'report-intrusion')
    return fc.oneof(
      { weight: 4, arbitrary: goodReport },
      { weight: 4, arbitrary: fc.record({ kind: fc.constant('fields' as const), fields: reportFields }) },
      { weight: 2, arbitrary: opsBody },
    );
  return opsBody;
}

/** Any body: meant for one of the routes, odd fields, not JSON, huge or none. */
export const opsBody: fc.Arbitrary<OpsBody> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('fields' as const), fields: bindFields }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('fields' as const), fields: reportFields }) },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('fields' as const), fields: fc.array(anyField, { maxLength: 5 }) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('raw' as const),
      text: fc.oneof(
        fc.json(),
        tainted(),
        fc.constantFrom('[', '{"serial":', '[{"serial":"1","localUserId":"u"}]', 'null', '"x"', '{}', ' '),
        fc.string({ unit: 'binary', maxLength: 64 }),
      ),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('huge' as const),
      bytes: fc.oneof(fc.constantFrom(16_383, 16_384, 16_385), fc.integer({ min: 16_000, max: 70_000 })),
      wide: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'none' as const }) },
);

function renderValue(value: FieldValue, fp: FuzzPki): string {
  if ('cert' in value) return JSON.stringify(certPem(value.cert, fp));
  if ('serial' in value) return JSON.stringify(serialString(value.serial, fp));
  return JSON.stringify(value.json) ?? 'null';
}

/** The bytes of a body. */
export function opsBodyBytes(body: OpsBody, fp: FuzzPki): Buffer {
  switch (body.kind) {
    case 'fields':
      return Buffer.from(`{${body.fields.map(([k, v]) => `${JSON.stringify(k)}:${renderValue(v, fp)}`).join(',')}}`);
    case 'raw':
      return Buffer.from(body.text);
    case 'huge': {
      const head = `{"serial":"${fp.pki.devices.alice.serial}","localUserId":"u","message":"`;
      const room = Math.max(0, body.bytes - head.length - 2);
      const pad = body.wide ? `${'\u00e9'.repeat(Math.floor(room / 2))}${room % 2 ? 'x' : ''}` : 'x'.repeat(room);
      return Buffer.from(`${head}${pad}"}`);
    }
    case 'none':
      return Buffer.alloc(0);
  }
}

/** The one certificate or serial of a fields body (the last of each key, as JSON.parse keeps it). */
function deviceOf(body: OpsBody): { cert?: FieldValue; serial?: FieldValue } {
  if (body.kind !== 'fields') return {};
  const last = new Map(body.fields);
  return { cert: last.get('certificate'), serial: last.get('serial') };
}

/** The decimal serial Identity Plus must be told about, when the body makes it certain. */
export function opsBodySerial(body: OpsBody, fp: FuzzPki): string | undefined {
  const { cert, serial } = deviceOf(body);
  if (cert && !serial && 'cert' in cert) return certSerial(cert.cert, fp);
  if (serial && !cert && 'serial' in serial) return serialSubject(serial.serial, fp);
  return undefined;
}

/** True when the body offers only a certificate plusgate must refuse (so Identity Plus must not be asked). */
export function opsBodyOnlyRefusedCertificate(body: OpsBody): boolean {
  const { cert, serial } = deviceOf(body);
  return serial === undefined && cert !== undefined && 'cert' in cert && certainlyRefused(cert.cert);
}

// -------------------------------------------------------------------------------------- requests

/** Changes to the built event that a real API Gateway event can also show. */
export type OpsMutation = 'none' | 'base64-body' | 'base64-flag-only' | 'null-headers' | 'null-body';

/** One request. */
export interface OpsRequest {
  readonly resource: string;
  readonly method: string;
  /** API Gateway's path parameters; null: none. */
  readonly parameters: Readonly<Record<string, string>> | null;
  readonly body: OpsBody;
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly mutation: OpsMutation;
}

const ODD_RESOURCES = [
  '/bindings/',
  '/BINDINGS',
  '/binding',
  '/bindings/{localUserId+}',
  '/intrusions/{id}',
  '/intrusions/',
  '/verify',
  '/',
  '',
  '__proto__',
  'constructor',
  'hasOwnProperty',
  'toString',
] as const;
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'put', 'delete', '__proto__', 'toString'];

const header: fc.Arbitrary<readonly [string, string]> = fc.oneof(
  fc.tuple(
    fc.constantFrom('Content-Type', 'content-type'),
    fc.oneof(
      fc.constantFrom(
        'application/json',
        'text/plain',
        'application/x-www-form-urlencoded',
        '',
        'application/json; charset=latin1',
      ),
      tainted(),
    ),
  ),
  fc.tuple(
    fc.constantFrom('Accept', 'X-Client-Cert', 'X-Forwarded-For', 'Host', 'Authorization', 'X-Amz-Security-Token'),
    tainted(),
  ),
  fc.tuple(fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,19}$/), tainted()),
);

export const opsRequest: fc.Arbitrary<OpsRequest> = fc
  .oneof(
    { weight: 12, arbitrary: fc.constantFrom(...IDENTITY_OPS_ROUTES.map((r) => r.resource)) },
    { weight: 1, arbitrary: fc.constantFrom(...ODD_RESOURCES) },
    { weight: 1, arbitrary: tainted() },
  )
  .chain((resource) => {
    const route = routeOf(resource);
    const method = fc.oneof(
      { weight: route ? 12 : 0, arbitrary: fc.constant(route?.method ?? 'GET') },
      { weight: 2, arbitrary: fc.constantFrom(...METHODS) },
      { weight: 1, arbitrary: tainted() },
    );
    const name = route?.parameter;
    const parameters = fc.oneof(
      { weight: name ? 8 : 1, arbitrary: pathText.map((value) => ({ [name ?? 'id']: value })) },
      { weight: 1, arbitrary: fc.constant(null) },
      {
        weight: 1,
        arbitrary: fc
          .tuple(fc.constantFrom('localUserId', 'reference', 'id', '__proto__'), pathText)
          .map(([key, value]) => ({ [key]: value })),
      },
    );
    return fc.record({
      resource: fc.constant(resource),
      method,
      parameters,
      body: opsBodyFor(resource),
      headers: fc.array(header, { maxLength: 3 }),
      mutation: fc.oneof(
        { weight: 8, arbitrary: fc.constant<OpsMutation>('none') },
        {
          weight: 1,
          arbitrary: fc.constantFrom<OpsMutation>('base64-body', 'base64-flag-only', 'null-headers', 'null-body'),
        },
      ),
    });
  });

/** The proxy event of a request, built like local mode's gateway builds it, then mutated. */
export function buildOpsEvent(spec: OpsRequest, fp: FuzzPki): APIGatewayProxyEvent {
  const value = spec.parameters ? (Object.values(spec.parameters)[0] ?? '') : '';
  const path = spec.resource.replace(/\{[^}]*\}/, value.slice(0, 300)) || '/';
  const headers: string[] = ['Host', 'api.example.com', 'User-Agent', 'x-fuzz'];
  for (const [name, text] of spec.headers) headers.push(name, text);
  const body = opsBodyBytes(spec.body, fp);
  const event = buildProxyEvent({
    method: spec.method,
    path,
    rawQuery: '',
    headers,
    body,
    resource: spec.resource,
    ...(spec.parameters ? { pathParameters: spec.parameters } : {}),
    stage: 'prod',
    domainName: 'api.example.com',
    sourceIp: '203.0.113.9',
    now: new Date(),
    requestId: 'fuzz-request',
  });
  switch (spec.mutation) {
    case 'base64-body':
      if (body.length > 0) {
        event.body = body.toString('base64');
        event.isBase64Encoded = true;
      }
      break;
    case 'base64-flag-only':
      event.isBase64Encoded = !event.isBase64Encoded;
      break;
    case 'null-headers':
      (event as { headers: unknown }).headers = null;
      (event as { multiValueHeaders: unknown }).multiValueHeaders = null;
      break;
    case 'null-body':
      event.body = null;
      break;
    default:
      break;
  }
  return event;
}

// --------------------------------------------------------------------------------- Identity Plus

const pad = (n: number) => String(n).padStart(4, '0');

/** Outcomes: the documented ones, the codes around them, and garbage. */
export const outcomeText: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      'OK 0000 Acknowledged',
      'OK 0001 Subject anonymous certificate valid',
      'OK 0100 Local user bound',
      'OK 0101 Local user unbound',
    ),
  },
  { weight: 3, arbitrary: fc.integer({ min: 0, max: 9 }).map((n) => `PB ${pad(n)} Problem <x-fuzz>`) },
  {
    weight: 3,
    arbitrary: fc
      .oneof(fc.integer({ min: 0, max: 13 }), fc.integer({ min: 1099, max: 1107 }))
      .map((n) => `ER ${pad(n)} Error "onerror=x-fuzz `),
  },
  {
    weight: 1,
    arbitrary: fc.oneof(
      fc.constantFrom('', 'OK', 'ok 0100 bound', ' OK 0100', 'OK 01000', 'XX 0001 x', 'ER 0003\u0000\r\n'),
      tainted(),
    ),
  },
);

const referenceValue = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('R-17', 'R?x=1&y#z%', 'x'.repeat(256)) },
  {
    weight: 2,
    arbitrary: fc.constantFrom<unknown>(
      '',
      '  ',
      'R/1',
      'R 1',
      'R-\ud800',
      'R\r\nSet-Cookie: a=b',
      'x'.repeat(257),
      17,
      null,
    ),
  },
  { weight: 1, arbitrary: tainted() },
);

const FAILURE_KINDS: readonly IdentityPlusFailureKind[] = [
  'timeout',
  'connection',
  'tls',
  'http-status',
  'invalid-response',
  'unknown-envelope',
  'rejected',
];

/** What Identity Plus does with the call a request makes (if it makes one). */
export type OpsAnswer =
  | { readonly kind: 'ok' }
  | { readonly kind: 'simple'; readonly outcome: string; readonly message?: string }
  | {
      readonly kind: 'envelope';
      readonly name: string;
      readonly outcome: unknown;
      readonly value?: unknown;
      readonly extra: Readonly<Record<string, unknown>>;
    }
  | { readonly kind: 'raw'; readonly text: string }
  | { readonly kind: 'fails'; readonly fails: IdentityPlusFailureKind };

export const opsAnswer: fc.Arbitrary<OpsAnswer> = fc.oneof(
  { weight: 6, arbitrary: fc.constant({ kind: 'ok' as const }) },
  {
    weight: 4,
    arbitrary: fc.record(
      { kind: fc.constant('simple' as const), outcome: outcomeText, message: fc.oneof(anyText(300), tainted()) },
      { requiredKeys: ['kind', 'outcome'] },
    ),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('envelope' as const),
      name: fc.constantFrom('Identity-Profile', 'Reference-Number', 'Simple-Response', 'Intent-Reference', 'Other'),
      outcome: fc.oneof({ weight: 5, arbitrary: outcomeText }, { weight: 1, arbitrary: jsonish }),
      value: referenceValue,
      extra: fc.constantFrom<Record<string, unknown>>(
        {},
        { 'local-user-id': 'bound-\u{1F600}', 'organizational-reference': '<x-fuzz>' },
        { 'local-user-id': '', 'local-user-name': null, 'service-roles': 'admin' },
        { 'service-roles': { not: 'a list' } },
        JSON.parse('{"__proto__":{"polluted":true}}'),
      ),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('raw' as const),
      text: fc.oneof(
        fc.constantFrom(
          '',
          'null',
          '[]',
          '<html>busy</html>',
          '{"Simple-Response":{"outcome":"OK 0101 a"},"Identity-Profile":{"outcome":"OK 0101 b"}}',
          '{"Reference-Number":{"value":"R","outcome":"OK 0000 a"},"Simple-Response":{"outcome":"ER 0007 b"}}',
        ),
        fc.json(),
        tainted(),
      ),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('fails' as const), fails: fc.constantFrom(...FAILURE_KINDS) }),
  },
);

/** The reply of the Identity Plus double for this answer to `operation`. */
export function scriptedReply(answer: OpsAnswer, operation: IdentityOperation): ScriptedReply {
  switch (answer.kind) {
    case 'ok':
      return okReply(operation);
    case 'simple':
      return { body: identityAnswers.simple(answer.outcome, answer.message) };
    case 'envelope': {
      const value =
        answer.name === 'Reference-Number' || answer.name === 'Intent-Reference' ? { value: answer.value } : {};
      return { body: JSON.stringify({ [answer.name]: { ...answer.extra, outcome: answer.outcome, ...value } }) };
    }
    case 'raw':
      return { body: answer.text };
    case 'fails':
      return {
        throws: new IdentityPlusError(answer.fails, `${INTERNAL_MARKER} ${answer.fails} at functions/x.ts:1:2`, {
          ...(answer.fails === 'http-status' ? { statusCode: 502 } : {}),
        }),
      };
  }
}
