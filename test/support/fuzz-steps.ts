/**
 * Runs a fuzzed sequence of requests against one handler (one container: its decision cache lives across
 * the steps) and checks every answer: the answer rules (fuzz-answers.ts), the decision model
 * (fuzz-ports.ts) and the entry point's own rules. A broken rule throws with the step, the event (long
 * strings cut) and the answer, which fast-check reports with its seed and path.
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import fc from 'fast-check';
import { Authenticator } from '../../functions/domain/authenticate';
import { DecisionCache } from '../../functions/domain/decision-cache';
import type { IntentPort } from '../../functions/domain/identity-plus';
import { IntentLimiter } from '../../functions/domain/intent-limiter';
import { type AnswerRules, answerProblems, answeredAllow, headerOf } from './fuzz-answers';
import {
  APP_ORIGIN,
  type FuzzPki,
  OTHER_ORIGIN,
  OWN_ORIGIN,
  type RequestSpec,
  buildEvent,
  shortened,
} from './fuzz-inputs';
import {
  type AuthenticationModel,
  type CountingIntents,
  type CountingUsedStates,
  type ScriptedAnswer,
  type ScriptedIdentityPlus,
  type StepObservation,
  confirmedIdentity,
  expectedDecision,
  failureOf,
  intentFailure,
  scriptedAnswer,
} from './fuzz-ports';
import type { MemoryRecords, TestClock } from './handler-doubles';

/** The settings of one fuzzed deployment. */
export interface Deployment {
  readonly allowedRoles: readonly string[];
  /** `decisionCacheSeconds` × 1000 (whole seconds, as the setting). */
  readonly ttlMs: number;
  /** `staleIfErrorSeconds` × 1000. */
  readonly staleMs: number;
  /** `negativeCacheSeconds` × 1000. */
  readonly negativeTtlMs: number;
  /** `intentIntervalSeconds` × 1000. */
  readonly intentIntervalMs: number;
  readonly returnOrigins: readonly string[];
  /** Configured public origin; undefined: taken from the request's domain name (the same origin here). */
  readonly publicOrigin: string | undefined;
}

export const deployment: fc.Arbitrary<Deployment> = fc.record({
  allowedRoles: fc.constantFrom<readonly string[]>([], [], ['member'], ['admin'], [' ops ', 'member ']),
  ttlMs: fc.constantFrom(0, 1_000, 60_000, 3_600_000),
  staleMs: fc.constantFrom(0, 0, 600_000),
  negativeTtlMs: fc.constantFrom(0, 15_000),
  intentIntervalMs: fc.constantFrom(0, 10_000, 60_000),
  returnOrigins: fc.constantFrom<readonly string[]>([APP_ORIGIN], [], [APP_ORIGIN, OTHER_ORIGIN]),
  publicOrigin: fc.constantFrom(OWN_ORIGIN, undefined),
});

/**
 * The Authenticator of a container of `settings`, as functions/runtime/composition.ts builds it (the
 * decision cache with its negative TTL, which `authenticatorWith` does not set).
 */
export function authenticatorFor(
  settings: Deployment,
  ports: { identityPlus: ScriptedIdentityPlus; records: MemoryRecords; clock: TestClock },
): Authenticator {
  return new Authenticator({
    identityPlus: ports.identityPlus,
    records: ports.records,
    cache: new DecisionCache({
      ttlMs: settings.ttlMs,
      staleMs: settings.staleMs,
      negativeTtlMs: settings.negativeTtlMs,
    }),
    policy: { allowedRoles: settings.allowedRoles },
    billingAnchorDay: 1,
    now: ports.clock.now,
  });
}

/** The intents of a container of `settings`: limited per certificate, as composition.ts wraps them. */
export function intentsFor(settings: Deployment, intents: CountingIntents, clock: TestClock): IntentPort {
  return new IntentLimiter(intents, { intervalMs: settings.intentIntervalMs, now: clock.now });
}

/** One request, what its ports do meanwhile, and the time passed before it. */
export interface Step {
  readonly request: RequestSpec;
  readonly identityPlus: ScriptedAnswer;
  readonly ledgerFails: boolean;
  readonly intentFails: ScriptedAnswer | null;
  readonly advanceMs: number;
}

const advance = fc.oneof(
  { weight: 3, arbitrary: fc.constant(0) },
  { weight: 3, arbitrary: fc.integer({ min: 1, max: 5_000 }) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.constantFrom(1_000, 60_000, 600_000, 3_600_000), fc.integer({ min: -1, max: 1 }))
      .map(([t, d]) => t + d),
  },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 7_200_000 }) },
);

/** Steps whose requests come from `request`, and Identity Plus's answers from `answers`. */
export function steps(
  request: fc.Arbitrary<RequestSpec>,
  options: { maxLength?: number; answers?: fc.Arbitrary<ScriptedAnswer> } = {},
): fc.Arbitrary<Step[]> {
  const maxLength = options.maxLength ?? 5;
  return fc.array(
    fc.record({
      request,
      identityPlus: options.answers ?? scriptedAnswer,
      ledgerFails: fc.oneof({ weight: 9, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
      intentFails: intentFailure,
      advanceMs: advance,
    }),
    { minLength: 1, maxLength },
  );
}

/** One handler with its doubles. */
export interface World {
  readonly handler: (event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult>;
  readonly identityPlus: ScriptedIdentityPlus;
  readonly records: MemoryRecords;
  readonly intents: CountingIntents;
  /** The edge's used-state store; it fails with the ledger (the same table). */
  readonly usedStates?: CountingUsedStates;
  readonly clock: TestClock;
  readonly model: AuthenticationModel;
  readonly deployment: Deployment;
  /** The longest `max-age` an answer to `event` may carry; undefined: `no-store` only. */
  readonly maxAgeSeconds?: (event: APIGatewayProxyEvent) => number | undefined;
  /** The entry point's own rules; returns the broken ones. */
  readonly rules?: (
    step: Step,
    event: APIGatewayProxyEvent,
    res: APIGatewayProxyResult,
    seen: StepObservation,
  ) => string[];
}

/** The serial an answer names (the identity JSON's device, or forward-auth's header), if any. */
function answeredSerial(res: APIGatewayProxyResult): string | undefined {
  const header = headerOf(res, 'X-Plusgate-Serial');
  if (header) return header;
  try {
    const serial = (JSON.parse(res.body) as { device?: { serial?: unknown } } | null)?.device?.serial;
    return typeof serial === 'string' ? serial : undefined;
  } catch {
    return undefined;
  }
}

function eventSummary(event: APIGatewayProxyEvent): unknown {
  return shortened({
    httpMethod: event.httpMethod,
    resource: event.resource,
    path: event.path,
    queryStringParameters: event.queryStringParameters,
    multiValueQueryStringParameters: event.multiValueQueryStringParameters,
    headers: event.headers,
    body: event.body,
    isBase64Encoded: event.isBase64Encoded,
    clientCertPem: event.requestContext?.identity?.clientCert?.clientCertPem,
  });
}

/** Runs `steps` against `world`; throws on the first broken rule, describing the request and the answer. */
export async function runSteps(world: World, steps: readonly Step[], fp: FuzzPki): Promise<void> {
  const { identityPlus, records, intents, usedStates, clock } = world;
  for (const [i, step] of steps.entries()) {
    clock.advance(step.advanceMs);
    identityPlus.next = step.identityPlus;
    records.fail = step.ledgerFails;
    if (usedStates) usedStates.fail = step.ledgerFails;
    intents.failure = step.intentFails && 'fails' in step.intentFails ? failureOf(step.intentFails) : undefined;
    const { event, subjectSerial } = buildEvent(step.request, {
      fp,
      now: clock.now(),
      intentReturnUrl: intents.asked.at(-1)?.returnUrl,
    });
    const before = {
      asked: identityPlus.asked.length,
      written: records.records.length,
      attempts: intents.attempts,
      made: intents.asked.length,
      claimFailures: usedStates?.failures ?? 0,
    };

    let res: unknown;
    let broken: string[];
    try {
      res = await world.handler(event);
      const rules: AnswerRules = {
        ownOrigin: world.deployment.publicOrigin ?? OWN_ORIGIN,
        returnOrigins: world.deployment.returnOrigins,
        signonUrls: intents.signonUrls,
        maxAgeSeconds: world.maxAgeSeconds?.(event),
      };
      broken = answerProblems(res, rules);
    } catch (err) {
      broken = [`the handler threw ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`];
    }
    if (broken.length === 0) {
      const result = res as APIGatewayProxyResult;
      const seen: StepObservation = {
        now: clock.now(),
        asked: identityPlus.asked.slice(before.asked),
        written: records.records.slice(before.written),
        ledgerFailing: step.ledgerFails,
        portFailed:
          intents.attempts - before.attempts > intents.asked.length - before.made ||
          (usedStates?.failures ?? 0) > before.claimFailures,
        status: result.statusCode,
        allowed: answeredAllow(result, intents.signonUrls),
        subjectSerial: subjectSerial ?? answeredSerial(result),
      };
      broken = [...world.model.observe(seen), ...(world.rules?.(step, event, result, seen) ?? [])];
    }
    if (broken.length > 0) {
      const answer = res && typeof res === 'object' ? shortened(res, 1500) : res;
      throw new Error(
        [
          `step ${i + 1} of ${steps.length} broke: ${broken.join('; ')}`,
          `event: ${JSON.stringify(eventSummary(event))}`,
          `Identity Plus: ${JSON.stringify(shortened(step.identityPlus))}; asked: ${JSON.stringify(identityPlus.asked.slice(before.asked).map((a) => a.serial))}`,
          `ledger failing: ${step.ledgerFails}; writes: ${records.records.length - before.written}; intent failing: ${Boolean(intents.failure)}`,
          `answer: ${JSON.stringify(answer)}`,
        ].join('\n'),
      );
    }
  }
}

/** Requests sent to one fresh container at once, while Identity Plus takes `ticks` turns to answer them all. */
export interface Batch {
  readonly requests: readonly RequestSpec[];
  readonly identityPlus: ScriptedAnswer;
  readonly ticks: number;
  readonly ledgerFails: boolean;
  readonly intentFails: ScriptedAnswer | null;
}

/** Batches of 2–6 requests from `request`. */
export function batch(request: fc.Arbitrary<RequestSpec>): fc.Arbitrary<Batch> {
  return fc.record({
    requests: fc.array(request, { minLength: 2, maxLength: 6 }),
    identityPlus: scriptedAnswer,
    ticks: fc.nat(4),
    ledgerFails: fc.oneof({ weight: 4, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
    intentFails: intentFailure,
  });
}

/**
 * Runs a batch concurrently against a fresh `world` (single flight: requests for one certificate share an
 * inquiry, its ledger write and its failure) and checks every answer, then the batch as a whole: at most one
 * inquiry per request, no write for what Identity Plus did not confirm (and at most one per inquiry), a 503
 * only with a documented cause in the batch, and nobody let in unless Identity Plus allowed and it was recorded.
 */
export async function runBatch(world: World, run: Batch, fp: FuzzPki): Promise<void> {
  const { identityPlus, records, intents, usedStates, clock } = world;
  identityPlus.next = run.identityPlus;
  identityPlus.ticks = run.ticks;
  records.fail = run.ledgerFails;
  if (usedStates) usedStates.fail = run.ledgerFails;
  intents.failure = run.intentFails && 'fails' in run.intentFails ? failureOf(run.intentFails) : undefined;
  const events = run.requests.map((request) => buildEvent(request, { fp, now: clock.now() }).event);
  const rules: AnswerRules = {
    ownOrigin: world.deployment.publicOrigin ?? OWN_ORIGIN,
    returnOrigins: world.deployment.returnOrigins,
    signonUrls: intents.signonUrls,
  };
  const answers = await Promise.all(
    events.map(async (event) => {
      try {
        const res = await world.handler(event);
        return { event, res, broken: answerProblems(res, { ...rules, maxAgeSeconds: world.maxAgeSeconds?.(event) }) };
      } catch (err) {
        return {
          event,
          res: undefined,
          broken: [`the handler threw ${err instanceof Error ? err.message : String(err)}`],
        };
      }
    }),
  );

  const broken = answers.flatMap((a, i) => a.broken.map((b) => `request ${i + 1}: ${b}`));
  const decided = expectedDecision(run.identityPlus, world.deployment.allowedRoles);
  const confirmed = confirmedIdentity(run.identityPlus);
  const asked = identityPlus.asked;
  if (asked.length > events.length) broken.push(`${asked.length} inquiries for ${events.length} requests`);
  if (records.records.length > 0 && !confirmed)
    broken.push('wrote the ledger although Identity Plus confirmed nothing');
  if (records.records.length > asked.length)
    broken.push(`${records.records.length} ledger writes for ${asked.length} inquiries`);
  const results = answers.flatMap((a) => (a.res ? [a.res] : []));
  const allowed = results.filter((res) => answeredAllow(res, intents.signonUrls)).length;
  if (allowed > 0 && (decided !== 'allow' || run.ledgerFails || records.records.length === 0))
    broken.push(
      `${allowed} answers let the caller in, but Identity Plus decided ${decided} (ledger failing: ${run.ledgerFails})`,
    );
  const portFailed =
    (intents.failure !== undefined && intents.attempts > intents.asked.length) || (usedStates?.failures ?? 0) > 0;
  if (results.some((res) => res.statusCode === 503)) {
    const cause = (asked.length > 0 && decided === 'error') || (confirmed && run.ledgerFails) || portFailed;
    if (!cause) broken.push('a 503 without a documented cause in the batch');
  }
  if (broken.length > 0) {
    throw new Error(
      [
        `the batch broke: ${broken.join('; ')}`,
        `Identity Plus: ${JSON.stringify(shortened(run.identityPlus))}; asked: ${JSON.stringify(asked.map((a) => a.serial))}`,
        `ledger failing: ${run.ledgerFails}; writes: ${records.records.length}`,
        ...answers.map(
          (a, i) =>
            `request ${i + 1}: ${JSON.stringify(eventSummary(a.event))}\n  answer: ${JSON.stringify(a.res ? shortened(a.res, 600) : a.res)}`,
        ),
      ].join('\n'),
    );
  }
}
