/**
 * Inputs of the fuzz suite (test/unit/fuzz): fast-check arbitraries of hostile strings, return URLs, state
 * tokens, certificates, serials, headers and bodies, and the API Gateway proxy events built from them with
 * `buildProxyEvent` (local/api-gateway-event.ts, the builder local mode's gateway uses), then mutated.
 *
 * Arbitraries give plain data (what to send; certificates by name), so fast-check prints a readable
 * counterexample that replays with the next run's new dev PKI; `buildEvent` turns it into the event.
 * Generated strings carry a marker ({@link MARKERS}) that must never show unescaped in an HTML answer.
 */
import type { APIGatewayEventClientCertificate, APIGatewayProxyEvent } from 'aws-lambda';
import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { signState } from '../../functions/domain/state-token';
import { buildProxyEvent, clientCertOf } from '../../local/api-gateway-event';
import { DEMO_PEOPLE, type DemoPerson, type DevPki, type IssuedCert, issueCertificate } from '../../local/dev-pki';

/** plusgate's own (edge) origin in the fuzzed deployments. */
export const OWN_ORIGIN = 'https://auth.example.com';
/** The return origins a fuzzed deployment may allow. */
export const APP_ORIGIN = 'https://app.example.com';
export const OTHER_ORIGIN = 'https://other.example.org:8443';
/** The state-signing key of the fuzzed deployments. */
export const STATE_KEY = Buffer.alloc(32, 7);

/** Put into generated strings: an HTML answer may show them only escaped. */
export const MARKERS = [
  '<x-fuzz>',
  '"onerror=x-fuzz ',
  "'onerror=x-fuzz ",
  'javascript:x-fuzz',
  '</title><x-fuzz>',
] as const;
/** What an HTML answer must never contain: the markers' unescaped beginnings. */
export const RAW_MARKERS = ['<x-fuzz', '"onerror=x-fuzz', "'onerror=x-fuzz"] as const;
/** Put into the doubles' failure messages: internals that must never reach a caller. */
export const INTERNAL_MARKER = 'x-fuzz-internal';

// ------------------------------------------------------------------------------------------ strings

/** Any short string: printable ASCII, any grapheme, any code point, or any byte-range character. */
export function anyText(maxLength = 30): fc.Arbitrary<string> {
  return fc.oneof(
    fc.string({ maxLength }),
    fc.string({ unit: 'grapheme', maxLength }),
    fc.string({ unit: 'binary', maxLength }),
    fc.string({ unit: 'binary-ascii', maxLength }),
  );
}

/** A string from `base` with one of the {@link MARKERS} put in at a random place. */
export function tainted(base: fc.Arbitrary<string> = anyText()): fc.Arbitrary<string> {
  return fc.tuple(base, fc.constantFrom(...MARKERS), fc.nat()).map(([text, marker, at]) => {
    const chars = Array.from(text); // by code point: never splits a surrogate pair
    const i = at % (chars.length + 1);
    return chars.slice(0, i).join('') + marker + chars.slice(i).join('');
  });
}

// ------------------------------------------------------------------------------------- return URLs

/** `return` / `X-Original-URL` values an attacker would try: off-origin, disguised, scripts, CRLF, oversized. */
export const HOSTILE_RETURNS: readonly string[] = [
  '//evil.example',
  '///evil.example',
  '////evil.example/x',
  '/\\evil.example',
  '\\\\evil.example',
  '/\\/evil.example',
  '\\/evil.example',
  '\t//evil.example',
  ' //evil.example',
  '\u202e//evil.example',
  '\uff0f\uff0fevil.example',
  '/\uff3cevil.example',
  '/\u00a0/evil.example',
  'https://evil.example',
  'https://evil.example/',
  'http://auth.example.com/',
  'http://app.example.com/x',
  'https://evil.example@auth.example.com/',
  'https://auth.example.com@evil.example/',
  'https://app.example.com:@evil.example',
  'https://user:pass@app.example.com/',
  'https://app.example.com@evil.example@app.example.com/',
  'https://auth.example.com.evil.example/',
  'https://app.example.com.evil.example/',
  'https://evil.example#@app.example.com',
  'https://evil.example?@app.example.com',
  'https://evil.example\\@app.example.com',
  'https://app.example.com\\@evil.example',
  'https://app.example.com%2f@evil.example/',
  'https://app.example.com%40evil.example/',
  'https:evil.example',
  'https:/evil.example',
  'https:\\\\evil.example',
  'https://app.example.com:444/',
  'https://app.example.com:443/ok',
  'https://app.example.com./',
  'HTTPS://APP.EXAMPLE.COM/ok',
  'https://\uff41pp.example.com/',
  'https://evil\u3002example/',
  'https://[::1]/',
  'https://127.0.0.1/',
  'https://0x7f.1/',
  'javascript:alert(1)',
  'JaVaScRiPt:alert(1)',
  ' javascript:alert(1)',
  'java\tscript:alert(1)',
  'javascript://app.example.com/%0aalert(1)',
  'data:text/html,<x-fuzz>',
  'vbscript:x',
  'blob:https://app.example.com/uuid',
  'file:///etc/passwd',
  'ftp://app.example.com/',
  'https://app.example.com/\r\nSet-Cookie: x-fuzz=1',
  '/\r\nLocation: https://evil.example',
  '/%0d%0aSet-Cookie:x-fuzz',
  '/\u2028x',
  '/\u0000',
  '\n/',
  ' /ok',
  '/ok ',
  '/%2f%2fevil.example',
  '/%5cevil.example',
  '/.%2e/%2e%2e/evil',
  '/..//evil.example',
  '/./evil',
  '/signin?return=//evil.example',
  '/return?state=x',
  '/ok?<x-fuzz>="onerror=x-fuzz',
  "https://app.example.com/<x-fuzz>'onerror=x-fuzz",
  `https://app.example.com/${'a'.repeat(1176)}`,
  `https://app.example.com/${'a'.repeat(1177)}`,
  `https://app.example.com/${'a'.repeat(1300)}`,
  `/${'%'.repeat(1199)}`,
  `/${'\u00e9'.repeat(1199)}`,
  '',
  ' ',
  '/',
  'https://app.example.com',
  'https://auth.example.com',
];

/** A destination that is (or resolves to) an allowed one, with a marker in its path, query or fragment. */
export const allowedReturn: fc.Arbitrary<string> = fc
  .tuple(
    fc.constantFrom('', OWN_ORIGIN, APP_ORIGIN, OTHER_ORIGIN, 'https://APP.Example.com:443'),
    fc.webPath(),
    fc.constantFrom(...MARKERS),
    fc.constantFrom('path', 'query', 'fragment'),
  )
  .map(([origin, path, marker, where]) => {
    const p = path.startsWith('/') ? path : `/${path}`;
    if (where === 'path') return `${origin}${p}${marker}`;
    return `${origin}${p}${where === 'query' ? '?q=' : '#'}${marker}`;
  });

/** A `return` (or `X-Original-URL`): hostile, allowed, random URL, random text, or hostile with a tail. */
export const returnValue: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...HOSTILE_RETURNS) },
  { weight: 4, arbitrary: allowedReturn },
  { weight: 1, arbitrary: fc.webUrl({ withQueryParameters: true, withFragments: true }) },
  { weight: 1, arbitrary: tainted() },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...HOSTILE_RETURNS), tainted()).map(([u, t]) => u + t) },
);

// ---------------------------------------------------------------------------------- certificates

/** The dev PKI plus certificates made for fuzzing. */
export interface FuzzPki {
  readonly pki: DevPki;
  /** Trusted chain, markup in its CN and OU, a 20-byte serial (the largest allowed). */
  readonly hostile: IssuedCert;
  /** Trusted chain, a 21-byte serial: valid X.509 that plusgate's parser refuses. */
  readonly oversizedSerial: IssuedCert;
}

const escapeRdn = (value: string) => value.replace(/([,+"\\<>;=])/g, '\\$1');

/** Issues the extra certificates (two RSA keys, about a second). */
export async function fuzzPki(pki: DevPki): Promise<FuzzPki> {
  const [hostile, oversizedSerial] = await Promise.all([
    issueCertificate(pki.intermediate, {
      subject: `O=Identity Plus Device,OU=${escapeRdn('<x-fuzz>"onerror=x-fuzz ')},CN=${escapeRdn("<x-fuzz>'onerror=x-fuzz javascript:x-fuzz")}`,
      serial: (2n ** 159n + 4321n).toString(),
    }),
    issueCertificate(pki.intermediate, {
      subject: 'O=Identity Plus Device,CN=oversized',
      serial: (2n ** 168n).toString(),
    }),
  ]);
  return { pki, hostile, oversizedSerial };
}

/** A certificate by name: the dev PKI's people, or one of {@link FuzzPki}'s. */
export type CertName = DemoPerson | 'hostile' | 'oversized-serial';
const CERT_NAMES: readonly CertName[] = [...DEMO_PEOPLE, 'hostile', 'oversized-serial'];

type Mangle =
  | 'crlf'
  | 'no-final-newline'
  | 'indent'
  | 'truncate'
  | 'flip'
  | 'twice'
  | 'trailing-text'
  | 'lowercase-armor'
  | 'leading-text'
  | 'one-line'
  | 'with-key';

/** What to put where a certificate goes. */
export type CertSpec =
  | { readonly kind: 'cert'; readonly name: CertName }
  | { readonly kind: 'ca'; readonly which: 'root' | 'intermediate' | 'foreign' | 'chain' | 'server' }
  | { readonly kind: 'mangled'; readonly name: CertName; readonly how: Mangle; readonly at: number }
  | { readonly kind: 'armored'; readonly der: readonly number[] }
  | { readonly kind: 'huge'; readonly length: number }
  | { readonly kind: 'text'; readonly text: string };

export const certSpec: fc.Arbitrary<CertSpec> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ kind: fc.constant('cert' as const), name: fc.constantFrom(...CERT_NAMES) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('ca' as const),
      which: fc.constantFrom(
        'root' as const,
        'intermediate' as const,
        'foreign' as const,
        'chain' as const,
        'server' as const,
      ),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('mangled' as const),
      name: fc.constantFrom(...CERT_NAMES),
      how: fc.constantFrom<Mangle>(
        'crlf',
        'no-final-newline',
        'indent',
        'truncate',
        'flip',
        'twice',
        'trailing-text',
        'lowercase-armor',
        'leading-text',
        'one-line',
        'with-key',
      ),
      at: fc.nat(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('armored' as const),
      der: fc.oneof(
        fc.array(fc.nat(255), { maxLength: 400 }),
        // Starts like a DER certificate (SEQUENCE, two length bytes), so the ASN.1 parser goes further.
        fc.array(fc.nat(255), { maxLength: 400 }).map((rest) => [0x30, 0x82, 0x01, rest.length & 0xff, ...rest]),
      ),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('huge' as const),
      length: fc.oneof(fc.constantFrom(16_383, 16_384, 16_385), fc.integer({ min: 16_000, max: 64_000 })),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('text' as const), text: tainted() }) },
);

/** A certificate a caller would send: mostly a real one (trusted or not), else anything. */
export const sentCert: fc.Arbitrary<CertSpec> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('cert' as const),
      name: fc.constantFrom<CertName>(...DEMO_PEOPLE, 'hostile'),
    }),
  },
  { weight: 2, arbitrary: certSpec },
);

function issued(fp: FuzzPki, name: CertName): IssuedCert {
  if (name === 'hostile') return fp.hostile;
  if (name === 'oversized-serial') return fp.oversizedSerial;
  return fp.pki.devices[name];
}

function armor(der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
}

/** The text a {@link CertSpec} stands for. */
export function certPem(spec: CertSpec, fp: FuzzPki): string {
  switch (spec.kind) {
    case 'cert':
      return issued(fp, spec.name).cert;
    case 'ca':
      if (spec.which === 'chain') return fp.pki.caChain;
      if (spec.which === 'foreign') return fp.pki.foreignCa.cert;
      return fp.pki[spec.which].cert;
    case 'armored':
      return armor(Buffer.from(spec.der));
    case 'huge':
      return armor(Buffer.alloc(Math.ceil((spec.length * 3) / 4), 0x41)).slice(0, spec.length);
    case 'text':
      return spec.text;
    case 'mangled':
      return mangle(issued(fp, spec.name), spec.how, spec.at);
  }
}

function mangle(cert: IssuedCert, how: Mangle, at: number): string {
  const pem = cert.cert;
  const i = at % pem.length;
  switch (how) {
    case 'crlf':
      return pem.replace(/\n/g, '\r\n');
    case 'no-final-newline':
      return pem.trimEnd();
    case 'indent':
      return pem.replace(/^/gm, '  ');
    case 'truncate':
      return pem.slice(0, i);
    case 'flip': {
      // One base64 character of the body changed: the DER (serial, signature, …) no longer matches.
      const body = pem.indexOf('\n') + 1 + (at % Math.max(1, pem.length - 60));
      const c = pem[body] === 'A' ? 'B' : 'A';
      return pem.slice(0, body) + (pem[body] === '\n' ? '\n' : c) + pem.slice(body + 1);
    }
    case 'twice':
      return pem + pem;
    case 'trailing-text':
      return `${pem}<x-fuzz>"onerror=x-fuzz `;
    case 'lowercase-armor':
      return pem.replace(/CERTIFICATE/g, 'certificate');
    case 'leading-text':
      return `subject=<x-fuzz>\n${pem}`;
    case 'one-line':
      return pem.replace(/\n(?!-----END)/g, '');
    case 'with-key':
      return pem + cert.key;
  }
}

/** The serial plusgate must ask Identity Plus about for this certificate, when that is certain. */
export function certSerial(spec: CertSpec, fp: FuzzPki): string | undefined {
  if (spec.kind !== 'cert' || spec.name === 'oversized-serial') return undefined;
  return issued(fp, spec.name).serial;
}

/**
 * True when plusgate must refuse this certificate outside a handshake whatever else happens: a foreign
 * chain, expired, a CA, not one PEM certificate, or not a certificate at all. (Mangles that can leave the
 * same DER, such as a flipped unused bit or a cut final newline, do not count.)
 */
export function certainlyRefused(spec: CertSpec): boolean {
  switch (spec.kind) {
    case 'cert':
      return spec.name === 'mallory' || spec.name === 'frank';
    case 'mangled':
      return (
        spec.name === 'mallory' ||
        spec.name === 'frank' ||
        ['twice', 'with-key', 'leading-text', 'lowercase-armor', 'trailing-text'].includes(spec.how)
      );
    case 'ca':
    case 'armored':
    case 'huge':
    case 'text':
      return true;
  }
}

// --------------------------------------------------------------------------------------- serials

type SerialForm =
  | 'decimal'
  | '0x'
  | '0X'
  | 'hex'
  | 'colon'
  | 'COLON'
  | 'spaced'
  | 'padded'
  | 'signed'
  | 'exp'
  | 'arabic';
const SAFE_FORMS: ReadonlySet<SerialForm> = new Set(['decimal', '0x', '0X', 'colon', 'COLON', 'spaced', 'padded']);
const MAX_SERIAL = 2n ** 160n - 1n;

/** A `serial` for POST /verify. */
export type SerialSpec =
  | { readonly kind: 'of'; readonly name: CertName; readonly form: SerialForm }
  | { readonly kind: 'number'; readonly value: bigint; readonly form: SerialForm }
  | { readonly kind: 'text'; readonly text: string };

const serialForm = fc.constantFrom<SerialForm>(
  'decimal',
  '0x',
  '0X',
  'hex',
  'colon',
  'COLON',
  'spaced',
  'padded',
  'signed',
  'exp',
  'arabic',
);

export const serialSpec: fc.Arbitrary<SerialSpec> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({ kind: fc.constant('of' as const), name: fc.constantFrom(...CERT_NAMES), form: serialForm }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('number' as const),
      value: fc.oneof(
        fc.constantFrom(0n, 1n, -1n, 255n, 256n, MAX_SERIAL, MAX_SERIAL + 1n, 2n ** 64n),
        fc.bigInt({ min: -(2n ** 70n), max: 2n ** 170n }),
      ),
      form: serialForm,
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('text' as const), text: tainted() }) },
);

function serialText(value: bigint, form: SerialForm): string {
  const negative = value < 0n;
  const abs = negative ? -value : value;
  const sign = negative ? '-' : '';
  let hex = abs.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  const colon = (hex.match(/../g) ?? []).join(':');
  switch (form) {
    case 'decimal':
      return value.toString();
    case '0x':
      return `${sign}0x${hex}`;
    case '0X':
      return `${sign}0X${hex.toUpperCase()}`;
    case 'hex':
      return sign + hex;
    case 'colon':
      return sign + colon;
    case 'COLON':
      return sign + colon.toUpperCase();
    case 'spaced':
      return ` ${value.toString()}\t`;
    case 'padded':
      return `${sign}000${abs.toString()}`;
    case 'signed':
      return negative ? value.toString() : `+${value.toString()}`;
    case 'exp':
      return `${value.toString()}e0`;
    case 'arabic':
      return value.toString().replace(/\d/g, (d) => String.fromCharCode(0x0660 + Number(d)));
  }
}

function serialValue(spec: Exclude<SerialSpec, { kind: 'text' }>, fp: FuzzPki): bigint {
  return spec.kind === 'of' ? BigInt(issued(fp, spec.name).serial) : spec.value;
}

/** The text a {@link SerialSpec} stands for. */
export function serialString(spec: SerialSpec, fp: FuzzPki): string {
  return spec.kind === 'text' ? spec.text : serialText(serialValue(spec, fp), spec.form);
}

/** The decimal serial plusgate must ask about for this `serial`, when that is certain. */
export function serialSubject(spec: SerialSpec, fp: FuzzPki): string | undefined {
  if (spec.kind === 'text' || !SAFE_FORMS.has(spec.form)) return undefined;
  const value = serialValue(spec, fp);
  // A one-byte value has no colon; its bare hex could read as decimal.
  if ((spec.form === 'colon' || spec.form === 'COLON') && value < 256n) return undefined;
  return value > 0n && value <= MAX_SERIAL ? value.toString() : undefined;
}

// ----------------------------------------------------------------------------------- state tokens

/** Whose certificate a state was made for: the one presented, or a person's. */
export type StateFor = 'presenter' | DemoPerson;
type Damage = 'none' | 'truncate' | 'flip' | 'insert' | 'dots' | 'upper' | 'padding';

/** A `state` for /return. */
export type StateSpec =
  | {
      readonly kind: 'signed';
      readonly for: StateFor;
      readonly destination: string;
      readonly ageMs: number;
      readonly damage: Damage;
      readonly at: number;
    }
  | {
      /** Signed with the right key, but a payload plusgate never makes (wrong types, long life, extra keys). */
      readonly kind: 'forged';
      readonly s: unknown;
      readonly d: unknown;
      readonly eOffsetMs: number | null;
      readonly proto: boolean;
    }
  | { readonly kind: 'other-key'; readonly for: StateFor; readonly destination: string }
  | { readonly kind: 'text'; readonly text: string };

const stateFor = fc.oneof(
  { weight: 4, arbitrary: fc.constant<StateFor>('presenter') },
  { weight: 1, arbitrary: fc.constantFrom<StateFor>(...DEMO_PEOPLE) },
);

export const stateSpec: fc.Arbitrary<StateSpec> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('signed' as const),
      for: stateFor,
      destination: fc.oneof(fc.constant(''), returnValue),
      ageMs: fc.oneof(
        { weight: 4, arbitrary: fc.integer({ min: 0, max: 60_000 }) },
        { weight: 1, arbitrary: fc.constantFrom(0, 1, 599_999, 600_000, 600_001) },
        { weight: 1, arbitrary: fc.integer({ min: 0, max: 700_000 }) },
      ),
      damage: fc.oneof(
        { weight: 5, arbitrary: fc.constant<Damage>('none') },
        { weight: 2, arbitrary: fc.constantFrom<Damage>('truncate', 'flip', 'insert', 'dots', 'upper', 'padding') },
      ),
      at: fc.nat(),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('forged' as const),
      s: fc.oneof(fc.constant('presenter'), fc.jsonValue({ maxDepth: 1 }), fc.constant(' presenter')),
      d: fc.oneof(returnValue, fc.jsonValue({ maxDepth: 1 })),
      eOffsetMs: fc.oneof(
        fc.constant(null),
        fc.constantFrom(600_000, 600_001, -1, 0, 1e12),
        fc.integer({ min: -1_000_000, max: 10_000_000 }),
      ),
      proto: fc.boolean(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('other-key' as const), for: stateFor, destination: returnValue }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('text' as const),
      text: fc.oneof(
        tainted(),
        fc.constantFrom('v1', 'v1.', 'v1..', 'v1.e30.', 'v2.e30.AAAA', '.e30.AAAA', 'v1.e30.AAAA.AAAA', 'v1.%.%'),
        fc.constant(`v1.${'A'.repeat(5000)}.AAAA`),
      ),
    }),
  },
);

/**
 * A token in the format signState writes now (whatever its version and fields), re-signed with `key` after
 * `change` edited its payload: what someone holding the key could make, and plusgate never does.
 */
function resigned(token: string, key: Buffer, change: (payload: Record<string, unknown>) => string): string {
  const [version = '', body = ''] = token.split('.');
  const payload = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Record<string, unknown>;
  const forged = Buffer.from(change(payload)).toString('base64url');
  const mac = createHmac('sha256', key).update(`${version}.${forged}`).digest('base64url');
  return `${version}.${forged}.${mac}`;
}

function damaged(token: string, damage: Damage, at: number): string {
  const i = at % token.length;
  switch (damage) {
    case 'none':
      return token;
    case 'truncate':
      return token.slice(0, i);
    case 'flip':
      return token.slice(0, i) + (token[i] === 'A' ? 'B' : 'A') + token.slice(i + 1);
    case 'insert':
      return `${token.slice(0, i)}<x-fuzz>${token.slice(i)}`;
    case 'dots':
      return `${token}.`;
    case 'upper':
      return token.toUpperCase();
    case 'padding':
      return `${token}==`;
  }
}

/** The `state` text a {@link StateSpec} stands for, made now for the presenting certificate's serial. */
export function stateToken(spec: StateSpec, ctx: { now: number; presenterSerial: string; fp: FuzzPki }): string {
  const serialFor = (who: StateFor) => (who === 'presenter' ? ctx.presenterSerial : ctx.fp.pki.devices[who].serial);
  switch (spec.kind) {
    case 'signed': {
      const token = signState(
        { serial: serialFor(spec.for), destination: spec.destination },
        STATE_KEY,
        ctx.now - spec.ageMs,
      );
      return damaged(token, spec.damage, spec.at);
    }
    case 'forged': {
      const real = signState({ serial: ctx.presenterSerial, destination: '' }, STATE_KEY, ctx.now);
      return resigned(real, STATE_KEY, (payload) => {
        const fields: Record<string, unknown> = {
          ...payload,
          s: spec.s === 'presenter' ? ctx.presenterSerial : spec.s,
          d: spec.d,
        };
        if (spec.eOffsetMs === null) delete fields.e;
        else fields.e = ctx.now + spec.eOffsetMs;
        const json = JSON.stringify(fields);
        return spec.proto ? `{"__proto__":{"d":"https://evil.example/","s":"1"},${json.slice(1)}` : json;
      });
    }
    case 'other-key':
      return signState({ serial: serialFor(spec.for), destination: spec.destination }, Buffer.alloc(32, 1), ctx.now);
    case 'text':
      return spec.text;
  }
}

// ------------------------------------------------------------------------------------ query strings

type Encoding = 'component' | 'form' | 'raw' | 'double';

/** One `key=value` of the query string. */
export interface QueryPart {
  readonly key: string;
  readonly value: { readonly text: string } | { readonly state: StateSpec };
  readonly encoding: Encoding;
  /** `key` alone, without `=`. */
  readonly bare: boolean;
}

const encoding = fc.constantFrom<Encoding>('component', 'component', 'form', 'raw', 'double');

function encodePart(text: string, how: Encoding): string {
  switch (how) {
    case 'component':
      return encodeURIComponent(text);
    case 'form':
      return encodeURIComponent(text).replace(/%20/g, '+');
    case 'raw':
      return text;
    case 'double':
      return encodeURIComponent(encodeURIComponent(text));
  }
}

const odd = (n: number) =>
  fc.oneof({ weight: n, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) });

function queryPart(keys: fc.Arbitrary<string>, value: fc.Arbitrary<QueryPart['value']>): fc.Arbitrary<QueryPart> {
  return fc.record({ key: keys, value, encoding, bare: odd(15) });
}

const returnPart = queryPart(
  fc.oneof(
    { weight: 12, arbitrary: fc.constant('return') },
    { weight: 1, arbitrary: fc.constantFrom('Return', 'return[]', 're%74urn') },
  ),
  returnValue.map((text) => ({ text })),
);
const statePart = queryPart(
  fc.oneof({ weight: 12, arbitrary: fc.constant('state') }, { weight: 1, arbitrary: fc.constant('State') }),
  stateSpec.map((state) => ({ state })),
);
const otherPart = queryPart(
  fc.oneof(fc.constantFrom('__proto__', 'constructor', 'period', 'format', 'x'), tainted()),
  tainted().map((text) => ({ text })),
);

// ------------------------------------------------------------------------------------------ headers

/** The certificate in `X-Client-Cert` as a proxy would put it (URL-escaped), or not quite. */
export interface CertHeader {
  readonly cert: CertSpec;
  readonly escape: 'component' | 'nginx' | 'raw' | 'spaces' | 'double' | 'broken';
  readonly at: number;
}

/** One request header; `cert` values are built from a {@link CertHeader}. */
export type HeaderSpec =
  | { readonly name: string; readonly value: string }
  | { readonly name: string; readonly cert: CertHeader }
  | { readonly name: string; readonly proxied: ProxiedCert };

const ACCEPTS = [
  'text/html',
  'application/json',
  'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8',
  'application/json, text/html',
  '*/*',
  '',
  'APPLICATION/JSON',
  'application/jsonx',
  'application/json;q=0',
  'text/plain',
] as const;

const acceptHeader: fc.Arbitrary<HeaderSpec> = fc.record({
  name: fc.constantFrom('Accept', 'accept', 'ACCEPT'),
  value: fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...ACCEPTS) }, { weight: 1, arbitrary: tainted() }),
});

const certHeader: fc.Arbitrary<HeaderSpec> = fc.record({
  name: fc.constantFrom('X-Client-Cert', 'x-client-cert', 'X-CLIENT-CERT'),
  cert: fc.record({
    cert: sentCert,
    escape: fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom('component' as const, 'nginx' as const) },
      {
        weight: 1,
        arbitrary: fc.constantFrom('raw' as const, 'spaces' as const, 'double' as const, 'broken' as const),
      },
    ),
    at: fc.nat(),
  }),
});

const certHeaderOddValue: fc.Arbitrary<HeaderSpec> = fc.record({
  name: fc.constant('X-Client-Cert'),
  value: fc.oneof(fc.constantFrom('', ' ', '-', '%', '%E0%A4%A', '+', 'null', '(null)'), tainted()),
});

const originalUrlHeader: fc.Arbitrary<HeaderSpec> = fc.record({
  name: fc.constantFrom('X-Original-URL', 'x-original-url'),
  value: returnValue,
});

const otherHeader: fc.Arbitrary<HeaderSpec> = fc.oneof(
  fc.record({
    name: fc.constantFrom(
      'Host',
      'X-Forwarded-Host',
      'X-Forwarded-Proto',
      'Referer',
      'Origin',
      'Cookie',
      'Content-Type',
    ),
    value: fc.oneof(
      fc.constantFrom('evil.example', 'app.example.com@evil.example', 'http', 'application/json'),
      tainted(),
    ),
  }),
  fc.record({ name: fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,19}$/), value: tainted() }),
);

function certHeaderValue(header: CertHeader, fp: FuzzPki): string {
  const pem = certPem(header.cert, fp);
  switch (header.escape) {
    case 'component':
      return encodeURIComponent(pem);
    case 'nginx':
      // nginx's $ssl_client_escaped_cert escapes less than encodeURIComponent: '+', '/' and '=' stay as they are.
      return encodeURIComponent(pem).replace(/%2B/g, '+').replace(/%2F/g, '/').replace(/%3D/g, '=');
    case 'raw':
      return pem;
    case 'spaces':
      return pem.replace(/\n/g, ' ');
    case 'double':
      return encodeURIComponent(encodeURIComponent(pem));
    case 'broken': {
      const escaped = encodeURIComponent(pem);
      const i = header.at % (escaped.length + 1);
      return `${escaped.slice(0, i)}%G${escaped.slice(i)}`;
    }
  }
}

// -------------------------------------------------------------------------------------------- bodies

/** A value of a POST /verify field. */
export type ValueSpec =
  | { readonly cert: CertSpec }
  | { readonly serial: SerialSpec }
  | { readonly json: unknown }
  | { readonly raw: string };

/** A request body. */
export type BodySpec =
  | { readonly kind: 'none' }
  | { readonly kind: 'fields'; readonly fields: ReadonlyArray<readonly [string, ValueSpec]> }
  | { readonly kind: 'json'; readonly value: unknown }
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'bytes'; readonly bytes: readonly number[] }
  | { readonly kind: 'huge'; readonly bytes: number; readonly wide: boolean };

const jsonish = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom<unknown>(true, false, null, 0, -0, 1e308, '', [], {}, { __proto__: null }),
  tainted(),
);

const ipValue = fc.oneof(
  fc.ipV4(),
  fc.ipV6(),
  fc.constantFrom('localhost', '1.2.3.4 ', '::ffff:1.2.3.4', '999.1.1.1', '1.2.3', '', '0', '::', 'fe80::1%eth0'),
  tainted(),
);

const fieldKey = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom('certificate', 'serial', 'ip', 'validationUrl') },
  {
    weight: 2,
    arbitrary: fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'Serial', ''),
  },
  { weight: 1, arbitrary: tainted() },
);

const field: fc.Arbitrary<readonly [string, ValueSpec]> = fieldKey.chain((key) => {
  const value: fc.Arbitrary<ValueSpec> =
    key === 'certificate'
      ? fc.oneof(
          { weight: 5, arbitrary: certSpec.map((cert) => ({ cert })) },
          { weight: 1, arbitrary: jsonish.map((json) => ({ json })) },
        )
      : key === 'serial'
        ? fc.oneof(
            { weight: 5, arbitrary: serialSpec.map((serial) => ({ serial })) },
            { weight: 1, arbitrary: jsonish.map((json) => ({ json })) },
          )
        : key === 'ip'
          ? ipValue.map((json) => ({ json }))
          : key === 'validationUrl'
            ? fc.oneof(fc.boolean(), jsonish).map((json) => ({ json }))
            : fc.oneof(
                jsonish.map((json) => ({ json })),
                fc.constantFrom('{"certificate":"x"}', '{"serial":"1","ip":"1.2.3.4"}').map((raw) => ({ raw })),
              );
  return value.map((v) => [key, v] as const);
});

/** A certificate or a serial first (what a caller means to send), then anything. */
const meantFields = fc
  .tuple(
    fc.oneof(
      sentCert.map((cert) => ['certificate', { cert }] as const),
      serialSpec.map((serial) => ['serial', { serial }] as const),
    ),
    fc.array(field, { maxLength: 2 }),
  )
  .map(([main, rest]) => [main, ...rest]);

export const verifyBody: fc.Arbitrary<BodySpec> = fc.oneof(
  { weight: 10, arbitrary: fc.record({ kind: fc.constant('fields' as const), fields: meantFields }) },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('fields' as const), fields: fc.array(field, { maxLength: 4 }) }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('json' as const), value: fc.jsonValue() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('text' as const), text: tainted() }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('bytes' as const), bytes: fc.array(fc.nat(255), { maxLength: 64 }) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('huge' as const),
      bytes: fc.oneof(fc.constantFrom(16_383, 16_384, 16_385), fc.integer({ min: 10_000, max: 100_000 })),
      wide: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'none' as const }) },
);

function renderValue(value: ValueSpec, fp: FuzzPki): string {
  if ('cert' in value) return JSON.stringify(certPem(value.cert, fp));
  if ('serial' in value) return JSON.stringify(serialString(value.serial, fp));
  if ('raw' in value) return value.raw;
  return JSON.stringify(value.json) ?? 'null';
}

/** The body text a {@link BodySpec} stands for. */
export function bodyBytes(spec: BodySpec, fp: FuzzPki): Buffer {
  switch (spec.kind) {
    case 'none':
      return Buffer.alloc(0);
    case 'fields':
      return Buffer.from(`{${spec.fields.map(([k, v]) => `${JSON.stringify(k)}:${renderValue(v, fp)}`).join(',')}}`);
    case 'json':
      return Buffer.from(JSON.stringify(spec.value) ?? '');
    case 'text':
      return Buffer.from(spec.text);
    case 'bytes':
      return Buffer.from(spec.bytes);
    case 'huge': {
      // Padded to `bytes` UTF-8 bytes (two-byte characters when `wide`: characters and bytes differ).
      const head = `{"serial":"${fp.pki.devices.alice.serial}","pad":"`;
      const room = Math.max(0, spec.bytes - head.length - 2);
      const pad = spec.wide ? `${'\u00e9'.repeat(Math.floor(room / 2))}${room % 2 ? 'x' : ''}` : 'x'.repeat(room);
      return Buffer.from(`${head}${pad}"}`);
    }
  }
}

/** The serial a POST /verify body names, when certain (one certificate or one serial, nothing odd). */
export function bodySubject(spec: BodySpec, fp: FuzzPki): string | undefined {
  if (spec.kind !== 'fields') return undefined;
  const last = new Map(spec.fields);
  const cert = last.get('certificate');
  const serial = last.get('serial');
  if (cert && !serial && 'cert' in cert) return certSerial(cert.cert, fp);
  if (serial && !cert && 'serial' in serial) return serialSubject(serial.serial, fp);
  return undefined;
}

// ------------------------------------------------------------------------------------------ requests

/** Changes to the built event that a real API Gateway event can also show. */
export type Mutation = 'none' | 'null-headers' | 'null-query' | 'base64-body' | 'base64-flag-only' | 'ipv6-source';

/** Everything about one request; {@link buildEvent} makes the event. */
export interface RequestSpec {
  readonly method: string;
  readonly path: string;
  /** API Gateway's matched resource; null: the path itself (how these routes are declared). */
  readonly resource: string | null;
  readonly query: readonly QueryPart[];
  readonly headers: readonly HeaderSpec[];
  readonly body: BodySpec;
  /** The certificate the mutual TLS handshake passed on (edge); null: none. */
  readonly clientCert: CertSpec | null;
  readonly mutation: Mutation;
  /** Edge: go where the last intent's return URL leads (the Identity Plus round trip), when there is one. */
  readonly followIntent: boolean;
  /** `/auth/{dialect}[/{path+}]`: the path parameters API Gateway hands over (null: none at all). */
  readonly auth?: AuthRoute;
}

/** Paths that are not quite a route, or try to be one. */
export const ODD_PATHS = [
  '/',
  '',
  '/signin/',
  '/SIGNIN',
  '/%73ignin',
  '/signin%2F',
  '/signin;x=1',
  '//signin',
  '/./signin',
  '/return/../signin',
  '/whoami.json',
  '/verify/',
  '/VERIFY',
  '/report',
  '/admin',
  '/signin\u0000',
  '/signin%00',
  '/\u00e9',
  '/%',
  '*',
  'signin',
  '/__proto__',
  '/constructor',
  '/toString',
  '/hasOwnProperty',
  '/valueOf',
  `/${'a'.repeat(3000)}`,
] as const;

const METHODS = ['POST', 'HEAD', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'get', 'TRACE'] as const;

function method(mainly: readonly string[]): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 12, arbitrary: fc.constantFrom(...mainly) },
    { weight: 1, arbitrary: fc.constantFrom(...METHODS) },
  );
}

function path(routes: readonly string[]): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 16, arbitrary: fc.constantFrom(...routes) },
    { weight: 2, arbitrary: fc.constantFrom(...ODD_PATHS) },
    { weight: 1, arbitrary: fc.webPath() },
    { weight: 1, arbitrary: tainted().map((t) => `/${t}`) },
  );
}

const resource = (routes: readonly string[]) =>
  fc.oneof(
    { weight: 12, arbitrary: fc.constant(null) },
    { weight: 1, arbitrary: fc.constantFrom(...routes, ...ODD_PATHS) },
  );

const mutation = fc.oneof(
  { weight: 12, arbitrary: fc.constant<Mutation>('none') },
  {
    weight: 1,
    arbitrary: fc.constantFrom<Mutation>(
      'null-headers',
      'null-query',
      'base64-body',
      'base64-flag-only',
      'ipv6-source',
    ),
  },
);

/** The certificate of a handshake API Gateway accepted: mostly a device's, sometimes anything. */
const handshakeCert: fc.Arbitrary<CertSpec | null> = fc.oneof(
  {
    weight: 14,
    arbitrary: fc.record({
      kind: fc.constant('cert' as const),
      name: fc.constantFrom<CertName>(...DEMO_PEOPLE, 'hostile'),
    }),
  },
  { weight: 2, arbitrary: certSpec },
  { weight: 1, arbitrary: fc.constant(null) },
);

/** The query of an edge request: mostly `return` for /signin, `state` for /return. */
function edgeQuery(route: string): fc.Arbitrary<QueryPart[]> {
  const main = route === '/return' ? statePart : returnPart;
  const side = route === '/return' ? returnPart : statePart;
  const part = fc.oneof(
    { weight: 8, arbitrary: main },
    { weight: 1, arbitrary: side },
    { weight: 1, arbitrary: otherPart },
  );
  return fc.oneof(
    { weight: 6, arbitrary: main.map((one) => [one]) },
    { weight: route === '/return' ? 1 : 2, arbitrary: fc.constant<QueryPart[]>([]) },
    { weight: 2, arbitrary: fc.array(part, { minLength: 1, maxLength: 3 }) },
  );
}

/** Requests to the edge function: /signin with `return`, /return with `state`, /whoami, and the odd ones. */
export const edgeRequest: fc.Arbitrary<RequestSpec> = path([
  '/signin',
  '/signin',
  '/return',
  '/return',
  '/whoami',
]).chain((p) =>
  fc.record({
    method: method(['GET']),
    path: fc.constant(p),
    resource: resource(['/signin', '/return', '/whoami']),
    query: edgeQuery(p),
    headers: fc.array(fc.oneof({ weight: 4, arbitrary: acceptHeader }, { weight: 1, arbitrary: otherHeader }), {
      maxLength: 3,
    }),
    body: fc.oneof(
      { weight: 8, arbitrary: fc.constant({ kind: 'none' as const }) },
      { weight: 1, arbitrary: verifyBody },
    ),
    clientCert: handshakeCert,
    mutation,
    followIntent: odd(3),
  }),
);

/**
 * The Identity Plus round trip: /signin with an allowed (or hostile) `return`, then /return by the intent's
 * return URL (again and again: replays), by a few people, so states meet the wrong certificate too.
 */
export const roundTripRequest: fc.Arbitrary<RequestSpec> = fc.record({
  method: fc.constant('GET'),
  path: fc.constantFrom('/signin', '/return'),
  resource: fc.constant(null),
  query: fc.oneof(
    {
      weight: 4,
      arbitrary: allowedReturn.map((text) => [
        { key: 'return', value: { text }, encoding: 'component' as const, bare: false },
      ]),
    },
    { weight: 1, arbitrary: returnPart.map((part) => [part]) },
    { weight: 1, arbitrary: fc.constant<QueryPart[]>([]) },
  ),
  headers: fc.array(acceptHeader, { maxLength: 1 }),
  body: fc.constant({ kind: 'none' as const }),
  clientCert: fc.oneof(
    { weight: 6, arbitrary: fc.constant<CertSpec>({ kind: 'cert', name: 'bob' }) },
    {
      weight: 1,
      arbitrary: fc.constantFrom<CertSpec>({ kind: 'cert', name: 'alice' }, { kind: 'cert', name: 'hostile' }),
    },
  ),
  mutation: fc.constant<Mutation>('none'),
  followIntent: fc.boolean(),
});

/** Forward-auth headers: the certificate (mostly), maybe the original URL, maybe more. */
const forwardAuthHeaders: fc.Arbitrary<HeaderSpec[]> = fc
  .tuple(
    fc.oneof(
      { weight: 12, arbitrary: certHeader },
      { weight: 1, arbitrary: certHeaderOddValue },
      { weight: 1, arbitrary: acceptHeader },
    ),
    fc.array(
      fc.oneof(
        { weight: 4, arbitrary: originalUrlHeader },
        { weight: 1, arbitrary: certHeader },
        { weight: 1, arbitrary: acceptHeader },
        { weight: 1, arbitrary: otherHeader },
      ),
      { maxLength: 2 },
    ),
  )
  .map(([first, rest]) => [first, ...rest]);

/** Requests to /verify: POST bodies, forward-auth headers, and the odd ones. */
const verifyRouteRequest: fc.Arbitrary<RequestSpec> = method(['POST', 'GET']).chain((m) =>
  fc.record({
    method: fc.constant(m),
    path: path(['/verify']),
    resource: resource(['/verify']),
    query: fc.array(fc.oneof(returnPart, otherPart), { maxLength: 1 }),
    headers:
      m === 'GET'
        ? forwardAuthHeaders
        : fc.array(fc.oneof({ weight: 4, arbitrary: otherHeader }, { weight: 1, arbitrary: certHeader }), {
            maxLength: 2,
          }),
    body:
      m === 'GET'
        ? fc.oneof(
            { weight: 8, arbitrary: fc.constant({ kind: 'none' as const }) },
            { weight: 1, arbitrary: verifyBody },
          )
        : verifyBody,
    clientCert: fc.constant(null),
    mutation,
    followIntent: fc.constant(false),
  }),
);

// ------------------------------------------------------------------------------- forward-auth dialects

/** The forward-auth dialects and the header each reads the certificate from (functions/adapters/proxy-dialects.ts). */
export const DIALECT_CERT_HEADERS = {
  nginx: 'X-Client-Cert',
  traefik: 'X-Forwarded-Tls-Client-Cert',
  caddy: 'X-Client-Cert',
  envoy: 'x-forwarded-client-cert',
} as const;
export type FuzzDialect = keyof typeof DIALECT_CERT_HEADERS;
const KNOWN_DIALECTS = Object.keys(DIALECT_CERT_HEADERS) as FuzzDialect[];

export function isKnownDialect(value: unknown): value is FuzzDialect {
  return typeof value === 'string' && (KNOWN_DIALECTS as string[]).includes(value);
}

/** The path parameters of `/auth/{dialect}[/{path+}]`; `parameters` null: API Gateway gave none. */
export interface AuthRoute {
  readonly parameters: { readonly dialect?: string; readonly path?: string } | null;
}

/** How a certificate is written into a proxy's header: each dialect's own shape, another's, or a broken one. */
export type ProxiedShape =
  | 'escaped-pem'
  | 'nginx-pem'
  | 'raw-pem'
  | 'der-base64'
  | 'der-base64url'
  | 'der-base64-spaced'
  | 'quoted-base64'
  | 'garbage-base64'
  | 'traefik-chain'
  | 'traefik-escaped'
  | 'traefik-garbage-leaf'
  | 'xfcc'
  | 'xfcc-unquoted'
  | 'xfcc-comma-quoted'
  | 'xfcc-two'
  | 'xfcc-two-certs'
  | 'xfcc-open-quote'
  | 'huge';
const SHAPES: readonly ProxiedShape[] = [
  'escaped-pem',
  'nginx-pem',
  'raw-pem',
  'der-base64',
  'der-base64url',
  'der-base64-spaced',
  'quoted-base64',
  'garbage-base64',
  'traefik-chain',
  'traefik-escaped',
  'traefik-garbage-leaf',
  'xfcc',
  'xfcc-unquoted',
  'xfcc-comma-quoted',
  'xfcc-two',
  'xfcc-two-certs',
  'xfcc-open-quote',
  'huge',
];

/** The shapes each dialect's proxy really sends. */
const RIGHT_SHAPES: Record<FuzzDialect, readonly ProxiedShape[]> = {
  nginx: ['escaped-pem', 'nginx-pem'],
  traefik: ['der-base64', 'traefik-chain', 'traefik-escaped'],
  caddy: ['der-base64'],
  envoy: ['xfcc', 'xfcc-unquoted', 'xfcc-comma-quoted'],
};

/** A certificate in a proxy's header. */
export interface ProxiedCert {
  readonly cert: CertSpec;
  readonly shape: ProxiedShape;
  readonly at: number;
}

/** Base64 DER of a PEM (armor lines and whitespace dropped): what Caddy and Traefik send. */
function derBase64(pem: string): string {
  return pem.replace(/-----[^-\n]*-----/g, '').replace(/\s+/g, '');
}

function proxiedCertValue(proxied: ProxiedCert, fp: FuzzPki): string {
  const pem = certPem(proxied.cert, fp);
  const b64 = derBase64(pem);
  const escaped = encodeURIComponent(pem);
  switch (proxied.shape) {
    case 'escaped-pem':
      return escaped;
    case 'nginx-pem':
      return escaped.replace(/%2B/g, '+').replace(/%2F/g, '/').replace(/%3D/g, '=');
    case 'raw-pem':
      return pem;
    case 'der-base64':
      return b64;
    case 'der-base64url':
      return b64.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
    case 'der-base64-spaced':
      return (b64.match(/.{1,64}/g) ?? []).join(' ');
    case 'quoted-base64':
      return `"${b64}"`;
    case 'garbage-base64': {
      const i = proxied.at % (b64.length + 1);
      return `${b64.slice(0, i)}!*${b64.slice(i)}`;
    }
    case 'traefik-chain':
      return [b64, derBase64(fp.pki.intermediate.cert), derBase64(fp.pki.root.cert)].join(',');
    case 'traefik-escaped':
      return [b64, derBase64(fp.pki.intermediate.cert)].map((c) => encodeURIComponent(c)).join(',');
    case 'traefik-garbage-leaf':
      return `x-fuzz,${b64}`;
    case 'xfcc':
      return `By=spiffe://cluster.local/ns/default/sa/app;Hash=${'ab'.repeat(32)};Cert="${escaped}";Subject="CN=x-fuzz,O=\\"q\\""`;
    case 'xfcc-unquoted':
      return `Hash=${'cd'.repeat(32)};Cert=${escaped}`;
    case 'xfcc-comma-quoted':
      return `By="spiffe://a,b;c=d";Cert="${escaped}";URI=spiffe://x`;
    case 'xfcc-two':
      return `By=spiffe://evil;Cert="${escaped}",By=spiffe://proxy;Hash=00`;
    case 'xfcc-two-certs':
      return `Cert="${escaped}";Cert="${escaped}"`;
    case 'xfcc-open-quote':
      return `Hash=00;Cert="${escaped}`;
    case 'huge':
      return 'A'.repeat(16_385 + (proxied.at % 30_000));
  }
}

/**
 * What `dialect` does with `shape`: true, the certificate itself is offered (as it is); false, never a
 * certificate, whatever is in it; undefined: depends on the certificate (judged as its PEM, or as its DER).
 */
function shapeVerdict(dialect: FuzzDialect, shape: ProxiedShape): true | false | 'pem' | 'der' {
  if ((RIGHT_SHAPES[dialect] as ProxiedShape[]).includes(shape)) return true;
  if (shape === 'huge' || shape === 'garbage-base64' || shape === 'quoted-base64') return false;
  switch (dialect) {
    case 'nginx':
      return shape === 'raw-pem' || shape.startsWith('xfcc') ? 'pem' : false;
    case 'caddy':
      return shape === 'der-base64url' ? 'der' : false;
    case 'traefik':
      return shape === 'der-base64url' ? 'der' : false;
    case 'envoy':
      return shape === 'xfcc-open-quote' ? 'pem' : false;
  }
}

/** Refused as a DER certificate whatever its armor was: not a chaining, valid end-entity certificate. */
function derCertainlyRefused(spec: CertSpec): boolean {
  if (spec.kind === 'cert' || spec.kind === 'mangled') return spec.name === 'mallory' || spec.name === 'frank';
  return true;
}

const certHeaderNames = (headers: readonly HeaderSpec[], name: string) =>
  headers.filter((h) => h.name.toLowerCase() === name.toLowerCase());

/** The dialect a request names when it is a known one. */
export function knownDialectOf(spec: RequestSpec): FuzzDialect | undefined {
  const dialect = spec.auth?.parameters?.dialect;
  return isKnownDialect(dialect) ? dialect : undefined;
}

/** True when the request's own dialect header is absent: any certificate it carries is in another's header. */
export function dialectCertAbsent(spec: RequestSpec): boolean {
  const dialect = knownDialectOf(spec);
  return (
    dialect !== undefined &&
    (spec.mutation === 'null-headers' || certHeaderNames(spec.headers, DIALECT_CERT_HEADERS[dialect]).length === 0)
  );
}

function dialectSubject(spec: RequestSpec, fp: FuzzPki): string | undefined {
  const dialect = knownDialectOf(spec);
  if (!dialect) return undefined;
  const own = certHeaderNames(spec.headers, DIALECT_CERT_HEADERS[dialect]);
  const only = own.length === 1 ? own[0] : undefined;
  if (!only || !('proxied' in only) || shapeVerdict(dialect, only.proxied.shape) !== true) return undefined;
  return certSerial(only.proxied.cert, fp);
}

function dialectOffersOnlyRefused(spec: RequestSpec): boolean {
  const dialect = knownDialectOf(spec);
  if (!dialect) return true; // an unknown dialect reads no header at all
  const own = certHeaderNames(spec.headers, DIALECT_CERT_HEADERS[dialect]);
  return (
    own.length > 0 &&
    own.every((h) => {
      if (!('proxied' in h)) return !('cert' in h) || certainlyRefused(h.cert.cert);
      const verdict = shapeVerdict(dialect, h.proxied.shape);
      if (verdict === false) return true;
      // The DER shapes drop the armor (and whatever a mangle did to it): judged as the DER they carry.
      const der =
        verdict === 'der' ||
        (verdict === true &&
          !['escaped-pem', 'nginx-pem'].includes(h.proxied.shape) &&
          !h.proxied.shape.startsWith('xfcc'));
      return der ? derCertainlyRefused(h.proxied.cert) : certainlyRefused(h.proxied.cert);
    })
  );
}

const HOSTILE_DIALECTS = [
  '',
  ' ',
  '__proto__',
  'constructor',
  'toString',
  'hasOwnProperty',
  'NGINX',
  'Traefik',
  'ENVOY',
  'envoy/../nginx',
  'nginx/',
  ' nginx',
  'nginx\u0000',
  'caddy%00',
  '%6Eginx',
  'nginx\r\nX-Evil: 1',
  'x'.repeat(5000),
] as const;

const dialectName: fc.Arbitrary<string> = fc.oneof(
  { weight: 10, arbitrary: fc.constantFrom(...KNOWN_DIALECTS) },
  { weight: 2, arbitrary: fc.constantFrom(...HOSTILE_DIALECTS) },
  { weight: 1, arbitrary: tainted() },
);

const HOSTILE_PATHS = [
  '_',
  '_/',
  '_/app/page',
  'app/page',
  '..',
  '../verify',
  '_/../../verify',
  '%2e%2e/%2e%2e',
  '//evil.example/x',
  '_//evil.example',
  '_/\\evil.example',
  '@evil.example',
  '_/@evil.example',
  '_/a\r\nLocation: https://evil.example',
  '_/\u00e9/\u00fc',
  '\u2028',
  '__proto__',
  '_/%',
  `_/${'a'.repeat(3000)}`,
] as const;

const authPath: fc.Arbitrary<string | undefined> = fc.oneof(
  { weight: 3, arbitrary: fc.constant(undefined) },
  { weight: 4, arbitrary: fc.constantFrom(...HOSTILE_PATHS) },
  { weight: 1, arbitrary: fc.webPath().map((p) => `_${p}`) },
  { weight: 1, arbitrary: tainted() },
);

const HOSTS = [
  'app.example.com',
  'app.example.com',
  'other.example.org:8443',
  'auth.example.com',
  'evil.example',
  'app.example.com@evil.example',
  'user:pw@app.example.com',
  'app.example.com/evil',
  'app.example.com\r\nX-Evil: 1',
  'app.example.com:443:1',
  '//evil.example',
  '\u00e1pp.example.com',
  'app.example.com.',
  '[::1]',
  'app.example.com:99999',
  ' app.example.com ',
  'app.example.com,evil.example',
  '%65vil.example',
  'app.example.com\\@evil.example',
  'app.example.com#@evil.example',
  'app.example.com?@evil.example',
] as const;

const URIS = [
  '/',
  '/page?x=1',
  '//evil.example/x',
  '/\\evil.example',
  '@evil.example',
  'https://evil.example/',
  '/a\r\nLocation: https://evil.example',
  '/\u00e9?\u00fc=1',
  '/%2F%2Fevil.example',
  '',
  'page',
  '/#frag',
  '/..//evil.example',
  '/@evil.example',
  `/${'a'.repeat(5000)}`,
] as const;

const urlHeader: fc.Arbitrary<HeaderSpec> = fc.oneof(
  fc.record({
    name: fc.constantFrom('X-Forwarded-Host', 'x-forwarded-host', 'Host'),
    value: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...HOSTS) }, { weight: 1, arbitrary: tainted() }),
  }),
  fc.record({
    name: fc.constantFrom('X-Forwarded-Uri', 'x-forwarded-uri'),
    value: fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom(...URIS) },
      { weight: 1, arbitrary: returnValue },
      { weight: 1, arbitrary: tainted() },
    ),
  }),
  originalUrlHeader,
);

function proxiedHeader(name: fc.Arbitrary<string>, shapes: fc.Arbitrary<ProxiedShape>): fc.Arbitrary<HeaderSpec> {
  return fc.record({ name, proxied: fc.record({ cert: sentCert, shape: shapes, at: fc.nat() }) });
}

/** Forward-auth headers for `dialect`: its certificate header (right shape, wrong shape, odd, none), smuggled ones, URLs. */
function dialectHeaders(dialect: string): fc.Arbitrary<HeaderSpec[]> {
  const known = isKnownDialect(dialect) ? dialect : undefined;
  const ownName = known ? DIALECT_CERT_HEADERS[known] : 'X-Client-Cert';
  const ownNames = fc.constantFrom(ownName, ownName.toLowerCase(), ownName.toUpperCase());
  const otherNames = [...new Set(Object.values(DIALECT_CERT_HEADERS))].filter(
    (n) => n.toLowerCase() !== ownName.toLowerCase(),
  );
  const own: fc.Arbitrary<HeaderSpec[]> = fc.oneof(
    {
      weight: 8,
      arbitrary: proxiedHeader(ownNames, fc.constantFrom(...(known ? RIGHT_SHAPES[known] : SHAPES))).map((h) => [h]),
    },
    { weight: 3, arbitrary: proxiedHeader(ownNames, fc.constantFrom(...SHAPES)).map((h) => [h]) },
    {
      weight: 1,
      arbitrary: fc
        .record({
          name: ownNames,
          value: fc.oneof(fc.constantFrom('', ' ', '-', '%', '""', 'Cert=', 'Cert=""', ',', 'null'), tainted()),
        })
        .map((h) => [h]),
    },
    { weight: 2, arbitrary: fc.constant<HeaderSpec[]>([]) },
  );
  // Another proxy's certificate header, mostly in that proxy's own shape: what a client would smuggle.
  const smuggled = fc.constantFrom(...otherNames).chain((name) => {
    const theirs = KNOWN_DIALECTS.find((d) => DIALECT_CERT_HEADERS[d] === name) as FuzzDialect;
    return proxiedHeader(
      fc.constant(name),
      fc.oneof(
        { weight: 3, arbitrary: fc.constantFrom(...RIGHT_SHAPES[theirs]) },
        { weight: 1, arbitrary: fc.constantFrom(...SHAPES) },
      ),
    );
  });
  return fc
    .tuple(
      own,
      fc.array(smuggled, { maxLength: 2 }),
      fc.array(urlHeader, { maxLength: 3 }),
      fc.array(fc.oneof({ weight: 2, arbitrary: acceptHeader }, { weight: 1, arbitrary: otherHeader }), {
        maxLength: 1,
      }),
    )
    .map(([o, s, u, rest]) => [...o, ...s, ...u, ...rest]);
}

/**
 * Forward-auth to `/auth/{dialect}[/{path+}]`: any method, a dialect from `dialects` (else a hostile name),
 * the certificate in the dialect's header or another's, hostile hosts, URIs and `{path+}` values.
 */
export function dialectRequest(dialects: fc.Arbitrary<string> = dialectName): fc.Arbitrary<RequestSpec> {
  return fc.tuple(dialects, authPath).chain(([dialect, page]) =>
    fc.record({
      method: fc.oneof(
        { weight: 6, arbitrary: fc.constant('GET') },
        { weight: 2, arbitrary: fc.constantFrom(...METHODS, 'PROPFIND') },
      ),
      path: fc.constant(`/auth/${dialect}${page === undefined ? '' : `/${page}`}`),
      resource: fc.constant(page === undefined ? '/auth/{dialect}' : '/auth/{dialect}/{path+}'),
      query: fc.array(fc.oneof(returnPart, otherPart), { maxLength: 1 }),
      headers: dialectHeaders(dialect),
      body: fc.oneof(
        { weight: 8, arbitrary: fc.constant({ kind: 'none' as const }) },
        { weight: 1, arbitrary: verifyBody },
      ),
      clientCert: fc.constant(null),
      mutation,
      followIntent: fc.constant(false),
      auth: fc.oneof(
        {
          weight: 14,
          arbitrary: fc.constant<AuthRoute>({
            parameters: page === undefined ? { dialect } : { dialect, path: page },
          }),
        },
        { weight: 1, arbitrary: fc.constantFrom<AuthRoute>({ parameters: null }, { parameters: { path: 'x' } }) },
      ),
    }),
  );
}

/** Requests to the verify function: /verify (POST bodies, forward-auth headers, the odd ones) and /auth/{dialect}. */
export const verifyRequest: fc.Arbitrary<RequestSpec> = fc.oneof(
  { weight: 3, arbitrary: verifyRouteRequest },
  { weight: 2, arbitrary: dialectRequest() },
);

/**
 * The same for requests at once, with only the dialects that never redirect (nginx and unknown names):
 * runBatch counts any redirect off the sign-on URLs as letting the caller in, so a 302 to /signin would be
 * taken for an allow there (the step runner's model is told otherwise, see verify-app.fuzz.test.ts).
 */
export const verifyRequestAtOnce: fc.Arbitrary<RequestSpec> = fc.oneof(
  { weight: 3, arbitrary: verifyRouteRequest },
  {
    weight: 2,
    arbitrary: dialectRequest(
      fc.oneof(
        { weight: 4, arbitrary: fc.constant('nginx') },
        { weight: 1, arbitrary: fc.constantFrom(...HOSTILE_DIALECTS) },
      ),
    ),
  },
);

// ------------------------------------------------------------------------------------------- events

/** What {@link buildEvent} needs besides the spec. */
export interface EventContext {
  readonly fp: FuzzPki;
  readonly now: number;
  /** Edge: the return URL of the last intent created, for `followIntent`. */
  readonly intentReturnUrl?: string;
}

/** The built event and the serial plusgate must ask Identity Plus about, when that is certain. */
export interface BuiltEvent {
  readonly event: APIGatewayProxyEvent;
  readonly subjectSerial?: string;
}

function handshakeCertificate(pem: string): APIGatewayEventClientCertificate {
  try {
    return clientCertOf(pem);
  } catch {
    // Not a certificate at all: API Gateway would have refused the handshake, but the handler must cope.
    return {
      clientCertPem: pem,
      subjectDN: 'CN=x-fuzz',
      issuerDN: 'CN=x-fuzz',
      serialNumber: '01',
      validity: { notBefore: 'Jan  1 00:00:00 2026 GMT', notAfter: 'Jan  1 00:00:00 2036 GMT' },
    };
  }
}

/** The proxy event for `spec`: built by `buildProxyEvent` like local mode's gateway does, then mutated. */
export function buildEvent(spec: RequestSpec, ctx: EventContext): BuiltEvent {
  const presenterSerial = (spec.clientCert && certSerial(spec.clientCert, ctx.fp)) ?? ctx.fp.pki.devices.alice.serial;
  let pathText = spec.path;
  let rawQuery = spec.query
    .map((part) => {
      const value =
        'text' in part.value
          ? part.value.text
          : stateToken(part.value.state, { now: ctx.now, presenterSerial, fp: ctx.fp });
      return part.bare
        ? encodePart(part.key, part.encoding)
        : `${encodePart(part.key, part.encoding)}=${encodePart(value, part.encoding)}`;
    })
    .join('&');
  if (spec.followIntent && ctx.intentReturnUrl) {
    const url = new URL(ctx.intentReturnUrl);
    pathText = url.pathname;
    rawQuery = url.search.slice(1);
  }
  const headers: string[] = ['Host', 'auth.example.com', 'User-Agent', 'x-fuzz'];
  for (const header of spec.headers) {
    headers.push(
      header.name,
      'cert' in header
        ? certHeaderValue(header.cert, ctx.fp)
        : 'proxied' in header
          ? proxiedCertValue(header.proxied, ctx.fp)
          : header.value,
    );
  }
  const body = bodyBytes(spec.body, ctx.fp);
  const event = buildProxyEvent({
    method: spec.method,
    path: pathText,
    rawQuery,
    headers,
    body,
    resource: spec.resource ?? pathText,
    ...(spec.auth?.parameters ? { pathParameters: spec.auth.parameters } : {}),
    stage: 'prod',
    domainName: 'auth.example.com',
    sourceIp: spec.mutation === 'ipv6-source' ? '2001:db8::7' : '203.0.113.9',
    now: new Date(ctx.now),
    requestId: 'fuzz-request',
  });
  if (spec.clientCert)
    event.requestContext.identity.clientCert = handshakeCertificate(certPem(spec.clientCert, ctx.fp));

  switch (spec.mutation) {
    case 'null-headers':
      (event as { headers: unknown }).headers = null;
      (event as { multiValueHeaders: unknown }).multiValueHeaders = null;
      break;
    case 'null-query':
      event.queryStringParameters = null;
      event.multiValueQueryStringParameters = null;
      break;
    case 'base64-body':
      if (body.length > 0) {
        event.body = body.toString('base64');
        event.isBase64Encoded = true;
      }
      break;
    case 'base64-flag-only':
      event.isBase64Encoded = !event.isBase64Encoded;
      break;
    default:
      break;
  }
  return { event, subjectSerial: subjectOf(spec, ctx) };
}

function subjectOf(spec: RequestSpec, ctx: EventContext): string | undefined {
  if (spec.clientCert) return certSerial(spec.clientCert, ctx.fp);
  if (spec.auth) return spec.mutation === 'null-headers' ? undefined : dialectSubject(spec, ctx.fp);
  if (spec.method === 'POST') return bodySubject(spec.body, ctx.fp);
  const certs = spec.headers.filter((h) => h.name.toLowerCase() === 'x-client-cert');
  const only = certs.length === 1 ? certs[0] : undefined;
  if (spec.mutation === 'null-headers' || !only || !('cert' in only)) return undefined;
  return only.cert.escape === 'component' || only.cert.escape === 'nginx'
    ? certSerial(only.cert.cert, ctx.fp)
    : undefined;
}

/**
 * True when a /verify request offers certificates only, and only ones plusgate must refuse (so Identity
 * Plus must not be asked): every `certificate` of a POST body without `serial`, every `X-Client-Cert` of a GET.
 */
export function offersOnlyRefusedCertificates(spec: RequestSpec): boolean {
  if (spec.auth) return dialectOffersOnlyRefused(spec);
  if (spec.method === 'POST') {
    if (spec.body.kind !== 'fields' || spec.body.fields.some(([k]) => k === 'serial')) return false;
    const certs = spec.body.fields.filter(([k]) => k === 'certificate');
    return certs.length > 0 && certs.every(([, v]) => 'cert' in v && certainlyRefused(v.cert));
  }
  const certs = spec.headers.filter((h) => h.name.toLowerCase() === 'x-client-cert');
  return certs.length > 0 && certs.every((h) => !('cert' in h) || certainlyRefused(h.cert.cert));
}

/** A shortened copy of `value` for failure messages: long strings cut, so a counterexample stays readable. */
export function shortened(value: unknown, max = 300): unknown {
  if (typeof value === 'string') return value.length > max ? `${value.slice(0, max)}…(${value.length} chars)` : value;
  if (Array.isArray(value)) return value.map((v) => shortened(v, max));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = shortened(v, max);
    return out;
  }
  return value;
}
