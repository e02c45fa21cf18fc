/**
 * Fuzzing the verify function (createVerifyHandler) in-process: POST /verify bodies (JSON and not, wrong
 * types, prototype keys, certificates, serials, oversized) and forward-auth GETs (X-Client-Cert escaped or
 * not, X-Original-URL hostile), with whatever Identity Plus, the intents and the ledger do meanwhile.
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
  STATE_KEY,
  fuzzPki,
  offersOnlyRefusedCertificates,
  verifyRequest,
} from '../../support/fuzz-inputs';
import {
  AuthenticationModel,
  CountingIntents,
  ScriptedIdentityPlus,
  type StepObservation,
  expectedDecision,
} from '../../support/fuzz-ports';
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
    model: new AuthenticationModel(settings),
    maxAgeSeconds: (event) => (event.httpMethod === 'GET' ? decisionCacheSeconds : undefined),
    rules: (step, event, res, seen) => verifyRules(settings, edgeOrigin, intents, step.request, event, res, seen),
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

describe('verify function under fuzzing', () => {
  it(
    'keeps every invariant for POST /verify and forward-auth, whatever is sent and whatever Identity Plus does',
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
        fc.asyncProperty(deployment, batch(verifyRequest), async (settings, run) => {
          await runBatch(world(settings), run, fp);
        }),
        fuzzParameters(),
      );
    },
    fuzzTimeoutMs(10),
  );
});
