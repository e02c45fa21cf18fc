/**
 * Fuzzing the identity operations (createIdentityOpsHandler) in-process: PUT /bindings,
 * DELETE /bindings/{localUserId}, POST /intrusions, DELETE /intrusions/{reference} and near misses, with
 * random and hostile methods, bodies, path parameters and headers, while Identity Plus answers each call
 * anything (OK, any outcome in any envelope, hostile references, garbage) or fails the way the client
 * fails. Identity Plus is the client's own wire code on scripted bodies (test/support/identity-ops-doubles.ts).
 * Inputs: test/support/fuzz-identity-ops.ts. Runs and replay: test/support/fuzz-settings.ts.
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import fc from 'fast-check';
import { checkReference } from '../../../functions/adapters/identity-plus-wire-users';
import { Truststore } from '../../../functions/domain/certificate-chain';
import type {
  BindAnswer,
  IntrusionAnswer,
  IntrusionReport,
  OutcomeAnswer,
} from '../../../functions/domain/identity-plus';
import { createIdentityOpsHandler } from '../../../functions/handlers/identity-ops-app';
import { answerProblems, headerOf } from '../../support/fuzz-answers';
import {
  type OpsAnswer,
  type OpsRequest,
  buildOpsEvent,
  opsAnswer,
  opsBodyOnlyRefusedCertificate,
  opsBodySerial,
  opsRequest,
  routeOf,
  scriptedReply,
} from '../../support/fuzz-identity-ops';
import { type FuzzPki, OWN_ORIGIN, fuzzPki, shortened } from '../../support/fuzz-inputs';
import { fuzzParameters, fuzzTimeoutMs } from '../../support/fuzz-settings';
import { TestClock } from '../../support/handler-doubles';
import { ForgetfulCache, RecordingLog, WireIdentityOperations } from '../../support/identity-ops-doubles';
import { testPki } from '../../support/test-pki';

let fp: FuzzPki;
let truststore: Truststore;
/** Lines of every certificate and key of the test PKI: none may come back in an answer. */
let pemLines: string[];
beforeAll(async () => {
  fp = await fuzzPki(await testPki());
  truststore = Truststore.fromPem(fp.pki.caChain);
  const pems = [
    fp.pki.caChain,
    fp.pki.foreignCa.cert,
    fp.hostile.cert,
    fp.hostile.key,
    ...Object.values(fp.pki.devices).flatMap((d) => [d.cert, d.key]),
  ];
  pemLines = pems.flatMap((pem) => pem.split('\n').filter((line) => line.length >= 40 && !line.startsWith('-----')));
});

/** What the double parsed for the handler: the answer it returned, or that it threw. */
type Parsed = BindAnswer | OutcomeAnswer | IntrusionAnswer | { readonly threw: unknown };

/** The Identity Plus double, remembering what each call gave the handler. */
class ObservedIdentityOperations extends WireIdentityOperations {
  readonly parsed: Parsed[] = [];
  async #observe<T extends Parsed>(call: () => Promise<T>): Promise<T> {
    const before = this.sent.length;
    try {
      const result = await call();
      this.parsed.push(result);
      return result;
    } catch (err) {
      // Refused by the builders before sending: no call, nothing parsed.
      if (this.sent.length > before) this.parsed.push({ threw: err });
      throw err;
    }
  }
  override bind(serial: string, localUserId: string): Promise<BindAnswer> {
    return this.#observe(() => super.bind(serial, localUserId));
  }
  override unbind(localUserId: string): Promise<OutcomeAnswer> {
    return this.#observe(() => super.unbind(localUserId));
  }
  override reportIntrusion(report: IntrusionReport): Promise<IntrusionAnswer> {
    return this.#observe(() => super.reportIntrusion(report));
  }
  override withdrawIntrusion(reference: string): Promise<OutcomeAnswer> {
    return this.#observe(() => super.withdrawIntrusion(reference));
  }
}

/** The outcome Identity Plus gave, when it gave one the handler could read. */
function outcomeOf(parsed: Parsed): string | undefined {
  if ('threw' in parsed) return undefined;
  if ('kind' in parsed && parsed.kind === 'profile') return parsed.profile.outcome;
  return parsed.outcome;
}

/** Whether the answer is one the operation counts as done: OK, and in the shape the operation needs. */
function answeredOk(parsed: Parsed): boolean {
  if ('threw' in parsed) return false;
  const outcome = outcomeOf(parsed) ?? '';
  if (!outcome.startsWith('OK')) return false;
  if ('kind' in parsed) return parsed.kind === 'profile' || parsed.kind === 'reference';
  return true;
}

/** Whether `text` survives being a URL path segment: percent-encoded as UTF-8 and decoded again. */
function survivesPath(text: string): boolean {
  try {
    return decodeURIComponent(encodeURIComponent(text)) === text;
  } catch {
    return false;
  }
}

const STATUSES = new Set([200, 201, 400, 403, 404, 405, 409, 413, 422, 503]);

interface Observation {
  readonly spec: OpsRequest;
  readonly event: APIGatewayProxyEvent;
  readonly res: APIGatewayProxyResult;
  readonly sent: WireIdentityOperations['sent'];
  readonly parsed: readonly Parsed[];
  readonly forgotten: readonly string[];
  readonly forgottenUsers: readonly string[];
}

/** Every rule an answer of the identity operations breaks (none: empty). */
function rulesBroken(o: Observation): string[] {
  const { spec, event, res } = o;
  const broken: string[] = [];
  if (!STATUSES.has(res.statusCode)) broken.push(`answered ${res.statusCode}`);
  const ok = res.statusCode === 200 || res.statusCode === 201;

  let body: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(res.body);
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) broken.push('a body that is no JSON object');
    else body = parsed as Record<string, unknown>;
  } catch {
    broken.push('a body that is not JSON');
  }
  if (!ok && (typeof body.message !== 'string' || body.message.trim() === '' || body.message.length > 2000))
    broken.push(`a ${res.statusCode} without a message that names the problem`);
  if (ok && 'message' in body) broken.push(`a ${res.statusCode} with a message`);
  if (res.statusCode === 503 && headerOf(res, 'Retry-After') !== '30') broken.push('a 503 without Retry-After: 30');
  if (res.statusCode !== 503 && headerOf(res, 'Retry-After') !== undefined)
    broken.push(`Retry-After on a ${res.statusCode}`);
  for (const line of pemLines) if (res.body.includes(line)) broken.push('a line of a certificate or key in the body');
  if (/PRIVATE KEY/.test(res.body)) broken.push('PRIVATE KEY in the body');

  const route = routeOf(event.resource);
  if (!route) {
    if (res.statusCode !== 404)
      broken.push(`unknown resource ${JSON.stringify(event.resource)} answered ${res.statusCode}`);
  } else if (event.httpMethod !== route.method) {
    if (res.statusCode !== 405) broken.push(`${event.httpMethod} on ${route.resource} answered ${res.statusCode}`);
    if (headerOf(res, 'Allow') !== route.method) broken.push(`405 with Allow ${headerOf(res, 'Allow')}`);
  } else if (res.statusCode === 404 && o.sent.length === 0) {
    broken.push('a 404 for one of the four routes without asking Identity Plus');
  }

  // Identity Plus: asked at most once, only on the route's own operation and method, never about a refused certificate.
  if (o.sent.length > 1) broken.push(`Identity Plus asked ${o.sent.length} times for one request`);
  const call = o.sent[0];
  const parsed = o.parsed[0];
  if (call) {
    if (!route || event.httpMethod !== route.method) broken.push('asked Identity Plus on a 404 or 405');
    else if (call.operation !== route.operation)
      broken.push(`${route.resource} asked Identity Plus to ${call.operation}`);
    const readsBody = call.operation === 'bind' || call.operation === 'report-intrusion';
    if (readsBody && opsBodyOnlyRefusedCertificate(spec.body))
      broken.push('asked Identity Plus about a certificate that does not chain to the truststore');
    const serial = readsBody ? opsBodySerial(spec.body, fp) : undefined;
    const sentSerial = JSON.stringify(call.envelope).match(
      /"(?:serial-number|intruding-certificate-uid)":"(\d+)"/,
    )?.[1];
    if (serial !== undefined && sentSerial !== serial) broken.push(`sent serial ${sentSerial}, expected ${serial}`);
  }

  // 2xx only when Identity Plus answered OK; an OK answer is never refused.
  if (ok && !(parsed && answeredOk(parsed))) broken.push(`a ${res.statusCode} though Identity Plus did not answer OK`);
  if (parsed && answeredOk(parsed) && !ok) broken.push(`a ${res.statusCode} though Identity Plus answered OK`);
  if (res.statusCode === 503 && !parsed) broken.push('a 503 without Identity Plus failing');
  if (parsed && !('threw' in parsed) && !ok && res.statusCode !== 503) {
    const code = (outcomeOf(parsed) ?? '').slice(0, 7);
    if (!String(body.message).includes(code))
      broken.push(`the ${res.statusCode} does not name ${JSON.stringify(code)}`);
  }

  // What a success says and what it forgets.
  const location = headerOf(res, 'Location');
  if (res.statusCode === 201) {
    if (route?.operation !== 'report-intrusion') broken.push(`201 on ${event.resource}`);
    const reference = typeof body.reference === 'string' ? body.reference : '';
    try {
      checkReference(reference);
    } catch {
      broken.push(`201 with a reference ${JSON.stringify(reference)} that could not be withdrawn`);
    }
    if (location !== `/intrusions/${encodeURIComponent(reference)}`)
      broken.push(`201 with Location ${JSON.stringify(location)}`);
  } else if (location !== undefined) broken.push(`a Location on a ${res.statusCode}`);
  if (res.statusCode === 200 && route?.operation === 'report-intrusion') broken.push('200 on POST /intrusions');
  const forgot = o.forgotten.length + o.forgottenUsers.length > 0;
  if (!ok && forgot) broken.push(`the cache was told to forget on a ${res.statusCode}`);
  if (ok && call) {
    const serial = JSON.stringify(call.envelope).match(/"(?:serial-number|intruding-certificate-uid)":"(\d+)"/)?.[1];
    if (call.operation !== 'unbind' && call.operation !== 'withdraw-intrusion' && !o.forgotten.includes(serial ?? ''))
      broken.push(`${call.operation} did not forget the decision of ${serial}`);
    if (call.operation === 'unbind' && !o.forgottenUsers.includes(`local:${body.localUserId}`))
      broken.push(`unbind did not forget local:${body.localUserId}`);
  }
  // What was bound can be unbound: its id fits in the path of DELETE /bindings/{localUserId} (PlusgateClient encodes it).
  if (ok && call?.operation === 'bind' && !survivesPath(String(body.localUserId)))
    broken.push(`bound ${JSON.stringify(body.localUserId)}, which no DELETE /bindings/{localUserId} can name`);
  return broken;
}

/** A request and what Identity Plus does with its call. */
interface Step {
  readonly request: OpsRequest;
  readonly identityPlus: OpsAnswer;
}
const step: fc.Arbitrary<Step> = fc.record({ request: opsRequest, identityPlus: opsAnswer });

/** Runs the steps against one handler (one container); throws on the first broken rule. */
async function run(steps: readonly Step[]): Promise<void> {
  const clock = new TestClock();
  clock.value = Date.now(); // real certificates: validity is checked against this clock
  const identityPlus = new ObservedIdentityOperations();
  const cache = new ForgetfulCache();
  const handler = createIdentityOpsHandler({
    identityPlus,
    truststore,
    cache,
    now: clock.now,
    log: new RecordingLog(),
  });
  for (const [i, s] of steps.entries()) {
    const event = buildOpsEvent(s.request, fp);
    const route = routeOf(event.resource);
    identityPlus.queue.length = 0;
    identityPlus.reply = (operation) => scriptedReply(s.identityPlus, operation);
    if (route) identityPlus.queue.push(scriptedReply(s.identityPlus, route.operation));
    const before = {
      sent: identityPlus.sent.length,
      parsed: identityPlus.parsed.length,
      forgotten: cache.forgotten.length,
      users: cache.forgottenUsers.length,
    };
    let res: unknown;
    let broken: string[];
    try {
      res = await handler(event);
      const result = res as APIGatewayProxyResult;
      // The 201's Location is checked by rulesBroken (a relative URL on a non-redirect, by design).
      const headers = { ...(result.headers ?? {}) };
      if (result.statusCode === 201) delete headers.Location;
      broken = answerProblems(
        { ...result, headers },
        { ownOrigin: OWN_ORIGIN, returnOrigins: [], signonUrls: new Set() },
      );
      if (broken.length === 0) {
        broken = rulesBroken({
          spec: s.request,
          event,
          res: result,
          sent: identityPlus.sent.slice(before.sent),
          parsed: identityPlus.parsed.slice(before.parsed),
          forgotten: cache.forgotten.slice(before.forgotten),
          forgottenUsers: cache.forgottenUsers.slice(before.users),
        });
      }
    } catch (err) {
      broken = [`the handler threw ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`];
    }
    if (broken.length > 0) {
      throw new Error(
        [
          `step ${i + 1} of ${steps.length} broke: ${broken.join('; ')}`,
          `request: ${JSON.stringify(shortened({ ...s.request, body: undefined }))}`,
          `body: ${JSON.stringify(shortened(event.body))}`,
          `Identity Plus: ${JSON.stringify(shortened(s.identityPlus))}; sent: ${JSON.stringify(shortened(identityPlus.sent.slice(before.sent)))}`,
          `answer: ${JSON.stringify(res && typeof res === 'object' ? shortened(res, 1500) : res)}`,
        ].join('\n'),
      );
    }
  }
}

describe('identity operations under fuzzing', () => {
  it(
    'answer every request with a 2xx only on an OK from Identity Plus, a 4xx that names the problem, or a 503 with Retry-After; never a 500, a stack trace or a PEM',
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 5 }), async (steps) => {
          await run(steps);
        }),
        fuzzParameters(),
      );
    },
    fuzzTimeoutMs(10),
  );
});
