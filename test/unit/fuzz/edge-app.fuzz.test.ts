/**
 * Fuzzing the edge function (createEdgeHandler) in-process: random and hostile requests to /signin, /return,
 * /whoami and elsewhere, with whatever Identity Plus, the intents and the ledger do meanwhile, over a few
 * requests to one container. Runs and replay: test/support/fuzz-settings.ts.
 */
import fc from 'fast-check';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { createEdgeHandler } from '../../../functions/handlers/edge-app';
import { wantsJson } from '../../../functions/adapters/api-gateway-request';
import { headerOf, isNoCertificateAnswer } from '../../support/fuzz-answers';
import { type FuzzPki, STATE_KEY, edgeRequest, fuzzPki, roundTripRequest } from '../../support/fuzz-inputs';
import {
  AuthenticationModel,
  CountingIntents,
  CountingUsedStates,
  ScriptedIdentityPlus,
  roundTripAnswer,
  expectedDecision,
  type StepObservation,
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
beforeAll(async () => {
  fp = await fuzzPki(await testPki());
});

function world(settings: Deployment): World {
  const clock = new TestClock();
  const identityPlus = new ScriptedIdentityPlus();
  const records = new MemoryRecords();
  const intents = new CountingIntents();
  const usedStates = new CountingUsedStates();
  const handler = createEdgeHandler({
    authenticator: authenticatorFor(settings, { identityPlus, records, clock }),
    intents: intentsFor(settings, intents, clock),
    stateKey: STATE_KEY,
    usedStates,
    allowedReturnOrigins: settings.returnOrigins,
    publicOrigin: settings.publicOrigin,
    now: clock.now,
    log: { decision: () => undefined, failure: () => undefined },
  });
  return {
    handler,
    identityPlus,
    records,
    intents,
    usedStates,
    clock,
    deployment: settings,
    model: new AuthenticationModel(settings),
    rules: (_step, event, res, seen) => edgeRules(settings, intents, event, res, seen),
  };
}

const EDGE_ROUTE_PATHS: ReadonlySet<string> = new Set(['/signin', '/return', '/whoami']);

/** Edge requests whose handshake passed on no certificate (CloudFront's optional mode lets them through). */
const noCertificateRequest = edgeRequest.map((request) => ({ ...request, clientCert: null }));

/** The edge's own rules (docs/design.md, "What each entry point answers"). */
function edgeRules(
  settings: Deployment,
  intents: CountingIntents,
  event: APIGatewayProxyEvent,
  res: APIGatewayProxyResult,
  seen: StepObservation,
): string[] {
  const broken: string[] = [];
  const route = event.resource ?? event.path;
  const inquiry = seen.asked[0];
  const decided = inquiry ? expectedDecision(inquiry.scripted, settings.allowedRoles) : undefined;
  const location = headerOf(res, 'Location');
  const redirect = res.statusCode >= 300 && res.statusCode < 400;
  // Only /signin sends to Identity Plus, on validate (asked now, or a validate the negative cache kept).
  if (
    location !== undefined &&
    intents.signonUrls.has(location) &&
    (route !== '/signin' || (decided && decided !== 'validate'))
  )
    broken.push(`sent to the sign-on URL from ${route} on ${decided ?? 'a cached decision'}`);
  if (route === '/return' && decided === 'validate' && redirect) broken.push('/return redirected on validate (a loop)');
  if (route === '/whoami' && redirect) broken.push('/whoami redirected');
  const landing = isNoCertificateAnswer(res);
  if (route === '/return' && res.statusCode === 200 && !landing)
    broken.push('/return answered a page (the used state stays in the address bar)');
  // A visitor without a certificate (CloudFront's optional mutual TLS) gets the landing page or 401 JSON, and
  // nothing is asked or written for them; nobody with a certificate gets that answer.
  const certified = Boolean(event.requestContext?.identity?.clientCert);
  if (landing && certified) broken.push('answered "no certificate" to a request with one');
  if (!certified && EDGE_ROUTE_PATHS.has(route) && event.httpMethod === 'GET') {
    if (!landing) broken.push(`no certificate, but answered ${res.statusCode}, not the landing page or 401 JSON`);
    else if ((res.statusCode === 401) !== wantsJson(event))
      broken.push(
        `no certificate: ${res.statusCode} where the Accept header asked for ${wantsJson(event) ? 'JSON' : 'a page'}`,
      );
    if (seen.asked.length || seen.written.length)
      broken.push('asked Identity Plus or wrote the ledger without a certificate');
  }
  if (event.httpMethod !== 'GET' && seen.asked.length > 0) broken.push(`asked Identity Plus for a ${event.httpMethod}`);
  return broken;
}

describe('edge function under fuzzing', () => {
  it(
    'keeps every invariant whatever the request and whatever Identity Plus, the intents and the ledger do',
    async () => {
      await fc.assert(
        fc.asyncProperty(deployment, steps(edgeRequest), async (settings, run) => {
          await runSteps(world(settings), run, fp);
        }),
        fuzzParameters(),
      );
    },
    fuzzTimeoutMs(10),
  );

  it(
    'answers visitors without a certificate with the landing page or 401 JSON, never a 5xx, never asking or writing anything',
    async () => {
      await fc.assert(
        fc.asyncProperty(deployment, steps(noCertificateRequest), async (settings, run) => {
          const w = world(settings);
          await runSteps(w, run, fp);
          expect(w.identityPlus.asked).toEqual([]);
          expect(w.records.records).toEqual([]);
          expect(w.intents.attempts).toBe(0);
          expect(w.usedStates?.attempts).toBe(0);
        }),
        fuzzParameters(),
      );
    },
    fuzzTimeoutMs(10),
  );

  it(
    'keeps every invariant through validation round trips: /signin, Identity Plus, /return, replays',
    async () => {
      await fc.assert(
        fc.asyncProperty(
          deployment,
          steps(roundTripRequest, { maxLength: 8, answers: roundTripAnswer }),
          async (settings, run) => {
            await runSteps(world(settings), run, fp);
          },
        ),
        fuzzParameters(),
      );
    },
    fuzzTimeoutMs(10),
  );

  it(
    'keeps every invariant when requests arrive at once (single flight shares an inquiry, its write and its failure)',
    async () => {
      await fc.assert(
        fc.asyncProperty(deployment, batch(edgeRequest), async (settings, run) => {
          await runBatch(world(settings), run, fp);
        }),
        fuzzParameters(),
      );
    },
    fuzzTimeoutMs(10),
  );
});
