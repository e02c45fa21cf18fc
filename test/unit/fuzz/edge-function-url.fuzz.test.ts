/**
 * Fuzzing the edge function behind CloudFront: random and hostile function-URL events (payload 2.0) through
 * the adapter (functions/adapters/function-url-request.ts) and the edge app, as the Lambda entry composes them
 * under `edge: "cloudfront"`. The certificate counts only when `cloudfront-viewer-cert-present` is exactly `1`
 * and `cloudfront-viewer-cert-pem` decodes to it; copies in other spellings or headers count as none.
 * Runs and replay: test/support/fuzz-settings.ts.
 */
import type { APIGatewayProxyResult } from 'aws-lambda';
import { X509Certificate } from 'node:crypto';
import fc from 'fast-check';
import {
  functionUrlResultOf,
  isFunctionUrlEvent,
  proxyEventOfFunctionUrl,
} from '../../../functions/adapters/function-url-request';
import { createEdgeHandler } from '../../../functions/handlers/edge-app';
import { answerProblems, answeredAllow, isNoCertificateAnswer } from '../../support/fuzz-answers';
import { type FunctionUrlSpec, buildFunctionUrlEvent, functionUrlSpec } from '../../support/fuzz-function-url';
import { type FuzzPki, OWN_ORIGIN, STATE_KEY, fuzzPki, shortened } from '../../support/fuzz-inputs';
import {
  CountingIntents,
  CountingUsedStates,
  type ScriptedAnswer,
  ScriptedIdentityPlus,
  expectedDecision,
  scriptedAnswer,
} from '../../support/fuzz-ports';
import { fuzzParameters, fuzzTimeoutMs } from '../../support/fuzz-settings';
import { type Deployment, authenticatorFor, deployment, intentsFor } from '../../support/fuzz-steps';
import { MemoryRecords, TestClock } from '../../support/handler-doubles';
import { testPki } from '../../support/test-pki';

let fp: FuzzPki;
beforeAll(async () => {
  fp = await fuzzPki(await testPki());
});

interface UrlStep {
  readonly request: FunctionUrlSpec;
  readonly identityPlus: ScriptedAnswer;
  readonly ledgerFails: boolean;
  readonly advanceMs: number;
}

const urlSteps = fc.array(
  fc.record({
    request: functionUrlSpec,
    identityPlus: scriptedAnswer,
    ledgerFails: fc.oneof({ weight: 9, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
    advanceMs: fc.constantFrom(0, 1_000, 20_000, 700_000),
  }),
  { minLength: 1, maxLength: 5 },
);

/** The serial of the certificate CloudFront vouched for in `headers` (Node's own parse), if any. */
function vouchedSerial(headers: Record<string, string | undefined>): string | undefined {
  if (headers['cloudfront-viewer-cert-present'] !== '1') return undefined;
  const encoded = headers['cloudfront-viewer-cert-pem'];
  if (!encoded) return undefined;
  try {
    return BigInt(`0x${new X509Certificate(decodeURIComponent(encoded)).serialNumber}`).toString(10);
  } catch {
    return undefined;
  }
}

async function run(settings: Deployment, steps: readonly UrlStep[]): Promise<void> {
  const clock = new TestClock();
  const identityPlus = new ScriptedIdentityPlus();
  const records = new MemoryRecords();
  const intents = new CountingIntents();
  const usedStates = new CountingUsedStates();
  const app = createEdgeHandler({
    authenticator: authenticatorFor(settings, { identityPlus, records, clock }),
    intents: intentsFor(settings, intents, clock),
    stateKey: STATE_KEY,
    usedStates,
    allowedReturnOrigins: settings.returnOrigins,
    publicOrigin: settings.publicOrigin ?? OWN_ORIGIN,
    now: clock.now,
    log: { decision: () => undefined, failure: () => undefined },
  });
  // The serials Identity Plus has allowed so far: the only ones a cache or the stale grace may allow again.
  const allowedSerials = new Set<string>();

  for (const [i, step] of steps.entries()) {
    clock.advance(step.advanceMs);
    identityPlus.next = step.identityPlus;
    records.fail = step.ledgerFails;
    usedStates.fail = step.ledgerFails;
    const event = buildFunctionUrlEvent(step.request, fp);
    const headers = event.headers as Record<string, string | undefined>;
    const vouched = vouchedSerial(headers);
    const asked = identityPlus.asked.length;
    const broken: string[] = [];
    let res: unknown;
    try {
      expect(isFunctionUrlEvent(event)).toBe(true);
      res = functionUrlResultOf(await app(proxyEventOfFunctionUrl(event)));
      broken.push(
        ...answerProblems(res, {
          ownOrigin: settings.publicOrigin ?? OWN_ORIGIN,
          returnOrigins: settings.returnOrigins,
          signonUrls: intents.signonUrls,
        }),
      );
    } catch (err) {
      broken.push(`threw ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
    }
    const newlyAsked = identityPlus.asked.slice(asked);
    for (const inquiry of newlyAsked) {
      if (inquiry.serial !== vouched)
        broken.push(
          `asked Identity Plus about ${inquiry.serial}, not the certificate CloudFront vouched for (${vouched ?? 'none'})`,
        );
      if (expectedDecision(inquiry.scripted, settings.allowedRoles) === 'allow') allowedSerials.add(inquiry.serial);
    }
    if (broken.length === 0) {
      const result = res as APIGatewayProxyResult;
      if (answeredAllow(result, intents.signonUrls) && (vouched === undefined || !allowedSerials.has(vouched)))
        broken.push(
          vouched === undefined
            ? 'let in a request without a certificate CloudFront vouched for (Present exactly 1 and a PEM that decodes)'
            : `let in ${vouched}, which Identity Plus never allowed`,
        );
      if (isNoCertificateAnswer(result) && vouched !== undefined)
        broken.push('answered "no certificate" to a vouched certificate');
      const route = step.request.path;
      if (
        headers['cloudfront-viewer-cert-present'] !== '1' &&
        ['/signin', '/return', '/whoami'].includes(route) &&
        step.request.method === 'GET' &&
        !isNoCertificateAnswer(result)
      )
        broken.push(
          `no certificate (Present ${JSON.stringify(headers['cloudfront-viewer-cert-present'])}), but answered ${result.statusCode}`,
        );
    }
    if (broken.length > 0)
      throw new Error(
        [
          `step ${i + 1} of ${steps.length} broke: ${broken.join('; ')}`,
          `event: ${JSON.stringify(shortened({ rawPath: event.rawPath, rawQueryString: event.rawQueryString, headers: event.headers, cookies: event.cookies }, 3000))}`,
          `Identity Plus: ${JSON.stringify(shortened(step.identityPlus))}; asked: ${JSON.stringify(newlyAsked.map((a) => a.serial))}`,
          `answer: ${JSON.stringify(res && typeof res === 'object' ? shortened(res, 1500) : res)}`,
        ].join('\n'),
      );
  }
}

describe('edge function behind CloudFront (function-URL events) under fuzzing', () => {
  it(
    'never lets anyone in unless cloudfront-viewer-cert-present is exactly 1 with the PEM of a device Identity Plus allowed; asks only about that certificate; never a 5xx but a 503',
    async () => {
      await fc.assert(
        fc.asyncProperty(deployment, urlSteps, async (settings, steps) => {
          await run(settings, steps);
        }),
        fuzzParameters(),
      );
    },
    fuzzTimeoutMs(10),
  );
});
