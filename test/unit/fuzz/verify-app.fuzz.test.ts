/**
 * Fuzzing the verify function (createVerifyHandler) in-process: POST /verify bodies (JSON and not, wrong
 * types, prototype keys, certificates, serials, oversized) and forward-auth GETs (X-Client-Cert escaped or
 * not, X-Original-URL hostile) and forward-auth by dialect (`/auth/{dialect}[/{path+}]`, any method: hostile
 * dialect names and paths, the certificate in the dialect's header in its shape or not, or smuggled in another
 * proxy's header, hostile X-Forwarded-Host/-Uri and Host), with whatever Identity Plus, the intents and the
 * ledger do meanwhile.
 * Runs and replay: test/support/fuzz-settings.ts.
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import fc from 'fast-check';
import { Truststore } from '../../../functions/domain/certificate-chain';
import { createVerifyHandler } from '../../../functions/handlers/verify-app';
import { headerOf, locationProblem } from '../../support/fuzz-answers';
import {
  type FuzzPki,
  OWN_ORIGIN,
  type RequestSpec,
  DIALECT_CERT_HEADERS,
  STATE_KEY,
  dialectCertAbsent,
  fuzzPki,
  isKnownDialect,
  offersOnlyRefusedCertificates,
  verifyRequest,
  verifyRequestAtOnce,
} from '../../support/fuzz-inputs';
import {
  AuthenticationModel,
  CountingIntents,
  ScriptedIdentityPlus,
  type StepObservation,
  expectedDecision,
} from '../../support/fuzz-ports';
import type { ModelSettings } from '../../support/fuzz-ports';
import { fuzzParameters, fuzzTimeoutMs } from '../../support/fuzz-settings';
import {
  type Deployment,
  type World,
  authenticatorFor,
  batch,
  deployment,
  intentsFor,
  runBatch,
  runSteps,
  steps,
} from '../../support/fuzz-steps';
import { MemoryRecords, TestClock } from '../../support/handler-doubles';
import { testPki } from '../../support/test-pki';

let fp: FuzzPki;
let truststore: Truststore;
beforeAll(async () => {
  fp = await fuzzPki(await testPki());
  truststore = Truststore.fromPem(fp.pki.caChain);
});

const AUTH_RESOURCES = new Set(['/auth/{dialect}', '/auth/{dialect}/{path+}']);

function onAuth(event: APIGatewayProxyEvent): boolean {
  return AUTH_RESOURCES.has(event.resource ?? event.path);
}

/**
 * The decision model, told that the verify function's redirects are never an allow: Traefik, Caddy and
 * Envoy get a 302 to plusgate's /signin where nginx gets a 401 (answeredAllow counts any redirect off the
 * sign-on URLs as letting in, which is right for the edge). The 302's own rules are in dialectRules.
 */
class VerifyModel extends AuthenticationModel {
  constructor(settings: ModelSettings) {
    super(settings);
  }
  override observe(step: StepObservation): string[] {
    return super.observe(step.status === 302 ? { ...step, allowed: false } : step);
  }
}

function world(settings: Deployment): World {
  const clock = new TestClock();
  clock.value = Date.now(); // real certificates: their validity is checked against this clock
  const identityPlus = new ScriptedIdentityPlus();
  const records = new MemoryRecords();
  const intents = new CountingIntents();
  const decisionCacheSeconds = settings.ttlMs / 1000;
  const edgeOrigin = settings.publicOrigin ?? OWN_ORIGIN;
  const handler = createVerifyHandler({
    authenticator: authenticatorFor(settings, { identityPlus, records, clock }),
    intents: intentsFor(settings, intents, clock),
    stateKey: STATE_KEY,
    truststore,
    edgeOrigin,
    allowedReturnOrigins: settings.returnOrigins,
    decisionCacheSeconds,
    now: clock.now,
    log: { decision: () => undefined, failure: () => undefined },
  });
  return {
    handler,
    identityPlus,
    records,
    intents,
    clock,
    deployment: settings,
    model: new VerifyModel(settings),
    // Forward-auth may keep an allow: GET /verify, and /auth/{dialect} whatever the method (Envoy forwards the browser's).
    maxAgeSeconds: (event) => (event.httpMethod === 'GET' || onAuth(event) ? decisionCacheSeconds : undefined),
    rules: (step, event, res, seen) => [
      ...verifyRules(settings, edgeOrigin, intents, step.request, event, res, seen),
      ...dialectRules(settings, edgeOrigin, step.request, event, res, seen),
    ],
  };
}

/** The verify function's own rules (docs/design.md: forward-auth, POST /verify, chain checks). */
function verifyRules(
  settings: Deployment,
  edgeOrigin: string,
  intents: CountingIntents,
  request: RequestSpec,
  event: APIGatewayProxyEvent,
  res: APIGatewayProxyResult,
  seen: StepObservation,
): string[] {
  const broken: string[] = [];
  const inquiry = seen.asked[0];
  const decided = inquiry ? expectedDecision(inquiry.scripted, settings.allowedRoles) : undefined;
  const onVerify = (event.resource ?? event.path) === '/verify';

  if (inquiry && offersOnlyRefusedCertificates(request))
    broken.push('asked Identity Plus about a certificate that does not chain to the truststore (or is no certificate)');

  if (onVerify && event.httpMethod === 'GET') {
    if (![200, 401, 403, 503].includes(res.statusCode)) broken.push(`forward-auth answered ${res.statusCode}`);
    for (const name of ['X-Plusgate-Decision', 'X-Plusgate-Reason'])
      if (!headerOf(res, name)) broken.push(`forward-auth answered without ${name}`);
    if (!(headerOf(res, 'Vary') ?? '').toLowerCase().includes('x-client-cert'))
      broken.push('forward-auth answered without Vary: X-Client-Cert');
    if ((res.statusCode === 200) !== (headerOf(res, 'X-Plusgate-Decision') === 'allow'))
      broken.push(`forward-auth ${res.statusCode} with decision ${headerOf(res, 'X-Plusgate-Decision')}`);
    if (res.statusCode === 200 && !headerOf(res, 'X-Plusgate-User'))
      broken.push('forward-auth allow without X-Plusgate-User');
    const cacheControl = headerOf(res, 'Cache-Control');
    if (cacheControl !== 'no-store' && !(res.statusCode === 200 && decided === 'allow'))
      broken.push(`Cache-Control ${cacheControl} on an answer Identity Plus did not just confirm`);
  }

  const signin = headerOf(res, 'X-Plusgate-Signin');
  if (signin !== undefined) {
    if (res.statusCode !== 401) broken.push(`X-Plusgate-Signin on a ${res.statusCode}`);
    let url: URL | undefined;
    try {
      url = new URL(signin);
    } catch {
      broken.push(`X-Plusgate-Signin ${JSON.stringify(signin)} is not a URL`);
    }
    if (url) {
      if (url.origin !== new URL(edgeOrigin).origin || url.pathname !== '/signin')
        broken.push(`X-Plusgate-Signin ${JSON.stringify(signin)} is not plusgate's /signin`);
      const keys = [...url.searchParams.keys()];
      if (keys.some((k) => k !== 'return') || keys.length > 1)
        broken.push(`X-Plusgate-Signin ${JSON.stringify(signin)} carries more than one return`);
      const destination = url.searchParams.get('return');
      const problem =
        destination !== null &&
        locationProblem(destination, {
          ownOrigin: edgeOrigin,
          returnOrigins: settings.returnOrigins,
          signonUrls: new Set(),
        });
      if (problem) broken.push(`X-Plusgate-Signin's return: ${problem}`);
    }
  }

  if (onVerify && event.httpMethod === 'POST' && res.statusCode === 200) {
    const body = JSON.parse(res.body) as { decision?: unknown; validationUrl?: unknown };
    if (!['allow', 'validate', 'deny'].includes(String(body.decision)))
      broken.push(`POST 200 with decision ${body.decision}`);
    if (
      body.validationUrl !== undefined &&
      (body.decision !== 'validate' || !intents.signonUrls.has(String(body.validationUrl)))
    )
      broken.push(`validationUrl ${JSON.stringify(body.validationUrl)} on a ${body.decision}`);
  }
  return broken;
}

/** The rules of every `/auth/{dialect}` answer (functions/adapters/proxy-dialects.ts, docs/design.md). */
function dialectRules(
  settings: Deployment,
  edgeOrigin: string,
  request: RequestSpec,
  event: APIGatewayProxyEvent,
  res: APIGatewayProxyResult,
  seen: StepObservation,
): string[] {
  if (!onAuth(event)) return [];
  const broken: string[] = [];
  const dialect = event.pathParameters?.dialect;
  if (!isKnownDialect(dialect)) {
    if (res.statusCode !== 404) broken.push(`unknown dialect ${JSON.stringify(dialect)} answered ${res.statusCode}`);
    if (seen.asked.length > 0) broken.push(`unknown dialect ${JSON.stringify(dialect)} asked Identity Plus`);
    return broken;
  }
  const inquiry = seen.asked[0];
  const decided = inquiry ? expectedDecision(inquiry.scripted, settings.allowedRoles) : undefined;
  const decision = headerOf(res, 'X-Plusgate-Decision');
  const reason = headerOf(res, 'X-Plusgate-Reason');
  const allowed = dialect === 'nginx' ? [200, 401, 403, 503] : [200, 302, 403, 503];
  if (!allowed.includes(res.statusCode)) broken.push(`/auth/${dialect} answered ${res.statusCode}`);
  if (!decision || !reason) broken.push(`/auth/${dialect} answered without X-Plusgate-Decision or -Reason`);
  const certHeader = DIALECT_CERT_HEADERS[dialect];
  const vary = (headerOf(res, 'Vary') ?? '').toLowerCase().split(/\s*,\s*/);
  if (!vary.includes(certHeader.toLowerCase())) broken.push(`/auth/${dialect} answered without Vary: ${certHeader}`);
  if ((res.statusCode === 200) !== (decision === 'allow'))
    broken.push(`/auth/${dialect} ${res.statusCode} with decision ${decision}`);
  if (res.statusCode === 200 && !headerOf(res, 'X-Plusgate-User')) broken.push('an allow without X-Plusgate-User');
  if (res.statusCode === 403 && decision !== 'deny') broken.push(`403 with decision ${decision}`);
  if (res.statusCode === 401 && !(decision === 'validate' || reason === 'no-certificate'))
    broken.push(`401 with decision ${decision}, reason ${reason}`);
  const cacheControl = headerOf(res, 'Cache-Control');
  if (cacheControl !== 'no-store' && !(res.statusCode === 200 && decided === 'allow'))
    broken.push(`Cache-Control ${cacheControl} on an answer Identity Plus did not just confirm`);

  if (res.statusCode === 302) {
    if (!(decision === 'validate' || reason === 'no-certificate'))
      broken.push(`302 with decision ${decision}, reason ${reason}`);
    const location = headerOf(res, 'Location') ?? '';
    const base = `${edgeOrigin}/signin`;
    if (location !== base && !location.startsWith(`${base}?return=`))
      broken.push(`Location ${JSON.stringify(location)} is not exactly ${base}[?return=…]`);
    else if (location !== base) {
      const url = new URL(location);
      const keys = [...url.searchParams.keys()];
      if (keys.length !== 1 || keys[0] !== 'return')
        broken.push(`Location ${JSON.stringify(location)} carries more than one return`);
      const problem = locationProblem(url.searchParams.get('return') ?? '', {
        ownOrigin: edgeOrigin,
        returnOrigins: settings.returnOrigins,
        signonUrls: new Set(),
      });
      if (problem) broken.push(`Location's return: ${problem}`);
    }
  }

  // No certificate in the dialect's own header (maybe one smuggled in another proxy's): nothing to ask about.
  if (dialectCertAbsent(request)) {
    if (seen.asked.length > 0)
      broken.push(`asked Identity Plus about ${seen.asked[0]?.serial} with nothing in ${certHeader}`);
    if (res.statusCode === 200) broken.push(`let in with nothing in ${certHeader}`);
    if (reason !== 'no-certificate') broken.push(`reason ${reason} with nothing in ${certHeader}`);
  }
  return broken;
}

describe('verify function under fuzzing', () => {
  it(
    'keeps every invariant for POST /verify and forward-auth (GET /verify, /auth/{dialect}), whatever is sent and whatever Identity Plus does',
    async () => {
      await fc.assert(
        fc.asyncProperty(deployment, steps(verifyRequest), async (settings, run) => {
          await runSteps(world(settings), run, fp);
        }),
        fuzzParameters(),
      );
    },
    fuzzTimeoutMs(10),
  );

  it(
    'keeps every invariant when requests arrive at once (single flight shares an inquiry, its write and its failure)',
    async () => {
      await fc.assert(
        fc.asyncProperty(deployment, batch(verifyRequestAtOnce), async (settings, run) => {
          await runBatch(world(settings), run, fp);
        }),
        fuzzParameters(),
      );
    },
    fuzzTimeoutMs(10),
  );
});
