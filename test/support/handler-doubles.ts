/** Doubles and event builders for handler unit tests: Identity Plus and the ledger in memory. */
import type { APIGatewayProxyEvent } from 'aws-lambda';
import {
  type AuthenticationRecord,
  Authenticator,
  type IdentityPlusPort,
  type RecordsPort,
} from '../../functions/domain/authenticate';
import { DecisionCache } from '../../functions/domain/decision-cache';
import { RecordWriteError } from '../../functions/domain/errors';
import type {
  IdentityProfile,
  InquiryAnswer,
  IntentReference,
  IntentRequest,
} from '../../functions/domain/identity-plus';
import type { UsedStatesPort } from '../../functions/domain/state-token';
import { buildProxyEvent } from '../../local/api-gateway-event';

/** An OK 0001 profile for alice, with overrides. */
export function cleared(extra: Partial<IdentityProfile> = {}): InquiryAnswer {
  return {
    kind: 'profile',
    profile: {
      outcome: 'OK 0001 Subject anonymous certificate valid',
      serviceRoles: ['member'],
      organizationalReference: 'ref-alice',
      organizationalName: 'Alice Archer',
      organizationalEmail: 'alice@example.com',
      customFields: {},
      ...extra,
    },
  };
}

export function problem(outcome: string): InquiryAnswer {
  return { kind: 'problem', outcome };
}

/** Identity Plus answering per serial (unknown serials: PB 0006); counts calls. */
export class FakeIdentityPlus implements IdentityPlusPort {
  readonly answers = new Map<string, InquiryAnswer | Error>();
  calls = 0;
  async inquire(serial: string): Promise<InquiryAnswer> {
    this.calls++;
    const answer = this.answers.get(serial) ?? problem('PB 0006 Unknown Identity Plus anonymous certificate');
    if (answer instanceof Error) throw answer;
    return answer;
  }
}

/** The ledger in memory; `fail` makes the next writes fail like DynamoDB would. */
export class MemoryRecords implements RecordsPort {
  readonly records: AuthenticationRecord[] = [];
  fail = false;
  async recordAuthentication(record: AuthenticationRecord): Promise<{ created: boolean }> {
    if (this.fail) throw new RecordWriteError('table unavailable');
    const created = !this.records.some((r) => r.userId === record.userId && r.period.id === record.period.id);
    this.records.push(record);
    return { created };
  }
}

/** Used state tokens in memory, as the ledger table keeps them; `fail` makes claims fail like DynamoDB would. */
export class MemoryUsedStates implements UsedStatesPort {
  readonly used = new Map<string, number>();
  fail = false;
  async claimState(id: string, expiresAt: number): Promise<boolean> {
    if (this.fail) throw new RecordWriteError('table unavailable');
    if (this.used.has(id)) return false;
    this.used.set(id, expiresAt);
    return true;
  }
}

/** Intents that always succeed (or fail with `failure`), remembering what was asked. */
export class FakeIntents {
  readonly asked: IntentRequest[] = [];
  failure?: Error;
  async createIntent(options: IntentRequest): Promise<IntentReference> {
    if (this.failure) throw this.failure;
    this.asked.push(options);
    return { reference: 'ref123', outcome: 'OK 0000 Acknowledged', signonUrl: 'https://signon.identity.plus/ref123' };
  }
}

/** A settable clock starting 2026-11-26 12:00 UTC. */
export class TestClock {
  value = Date.UTC(2026, 10, 26, 12);
  readonly now = () => this.value;
  advance(ms: number): void {
    this.value += ms;
  }
}

export function authenticatorWith(
  identityPlus: IdentityPlusPort,
  records: RecordsPort,
  clock: TestClock,
  options: { allowedRoles?: string[]; ttlMs?: number; staleMs?: number } = {},
): Authenticator {
  return new Authenticator({
    identityPlus,
    records,
    cache: new DecisionCache({ ttlMs: options.ttlMs ?? 60_000, staleMs: options.staleMs ?? 0 }),
    policy: { allowedRoles: options.allowedRoles ?? [] },
    billingAnchorDay: 1,
    now: clock.now,
  });
}

/** A REST proxy event built the way API Gateway builds it. */
export function proxyEvent(options: {
  path: string;
  method?: string;
  query?: string;
  headers?: Record<string, string>;
  body?: string;
  clientCertPem?: string;
  domainName?: string;
  /** @default the path */
  resource?: string;
  pathParameters?: Record<string, string>;
}): APIGatewayProxyEvent {
  return buildProxyEvent({
    method: options.method ?? 'GET',
    path: options.path,
    rawQuery: options.query ?? '',
    headers: { host: options.domainName ?? 'auth.example.com', 'user-agent': 'curl/7.88.1', ...options.headers },
    body: Buffer.from(options.body ?? ''),
    resource: options.resource ?? options.path,
    ...(options.pathParameters ? { pathParameters: options.pathParameters } : {}),
    stage: 'prod',
    domainName: options.domainName ?? 'auth.example.com',
    sourceIp: '203.0.113.9',
    clientCert: options.clientCertPem ? { pem: options.clientCertPem } : undefined,
    now: new Date(),
    requestId: 'req-1',
  });
}
