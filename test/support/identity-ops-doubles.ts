/**
 * Doubles for the identity operations' handler (functions/handlers/identity-ops-app.ts): Identity Plus as the
 * client does it minus the transport, a decision cache that remembers what it was told to forget, a log that
 * keeps what it was given, and the answer bodies Identity Plus sends.
 *
 * {@link WireIdentityOperations} builds each request with the client's own wire builders (so bad input is
 * refused exactly as in production, before anything is sent) and parses the scripted answer body with the
 * client's own parsers, or throws what the transport would: the handler sees what it sees in production.
 */
import {
  buildBindRequest,
  buildIntrusionReport,
  buildIntrusionWithdrawal,
  buildUnbindRequest,
  parseIntrusionAnswer,
  parseOutcomeAnswer,
} from '../../functions/adapters/identity-plus-wire-users';
import { parseInquiryAnswer } from '../../functions/adapters/identity-plus-wire';
import { DecisionCache } from '../../functions/domain/decision-cache';
import type { IdentityOperation, IdentityOperationsPort } from '../../functions/domain/identity-operations';
import type {
  BindAnswer,
  InquiryAnswer,
  IntrusionAnswer,
  IntrusionReport,
  OutcomeAnswer,
} from '../../functions/domain/identity-plus';
import type { DecisionLog } from '../../functions/http/decision-log';

/** What Identity Plus does with the next call: answer this body (HTTP 200), or fail with this error. */
export type ScriptedReply = { readonly body: string } | { readonly throws: Error };

/** One request that reached Identity Plus: its method and the envelope sent. */
export interface SentRequest {
  readonly operation: IdentityOperation;
  readonly method: 'PUT' | 'DELETE';
  readonly envelope: unknown;
}

/** Answer bodies of Identity Plus to the identity operations. */
export const identityAnswers = {
  /** `Identity-Profile` OK 0100, with the local user bound and any other profile fields. */
  bound(localUserName: string, extra: Record<string, unknown> = {}): string {
    return JSON.stringify({
      'Identity-Profile': {
        outcome: 'OK 0100 Local user bound',
        'local-user-name': localUserName,
        'organizational-reference': 'ref-alice',
        'service-roles': ['member'],
        ...extra,
      },
    });
  },
  /** `Simple-Response` OK 0101: unbound. */
  unbound(): string {
    return JSON.stringify({ 'Simple-Response': { outcome: 'OK 0101 Local user unbound' } });
  },
  /** `Reference-Number` of a report. */
  reported(reference: unknown, outcome = 'OK 0000 Acknowledged'): string {
    return JSON.stringify({ 'Reference-Number': { value: reference, outcome } });
  },
  /** `Simple-Response` OK: the report withdrawn. */
  withdrawn(): string {
    return JSON.stringify({ 'Simple-Response': { outcome: 'OK 0000 Acknowledged' } });
  },
  /** A `Simple-Response` with any outcome, and a message when given. */
  simple(outcome: string, message?: string): string {
    return JSON.stringify({ 'Simple-Response': message === undefined ? { outcome } : { outcome, message } });
  },
} as const;

/** The OK answer of each operation, what the double answers when nothing else was scripted. */
export function okReply(operation: IdentityOperation, localUserId = 'user-1'): ScriptedReply {
  switch (operation) {
    case 'bind':
      return { body: identityAnswers.bound(localUserId) };
    case 'unbind':
      return { body: identityAnswers.unbound() };
    case 'report-intrusion':
      return { body: identityAnswers.reported('R-17') };
    case 'withdraw-intrusion':
      return { body: identityAnswers.withdrawn() };
  }
}

/** Identity Plus's identity operations, by the client's own wire code; see the file comment. */
export class WireIdentityOperations implements IdentityOperationsPort {
  /** Requests that reached Identity Plus (bad input refused by the builders never gets here). */
  readonly sent: SentRequest[] = [];
  /** Replies for the next calls, in order; when empty, {@link reply} decides. */
  readonly queue: ScriptedReply[] = [];
  /** The reply when nothing is queued: OK by default. */
  reply: (operation: IdentityOperation, sent: SentRequest) => ScriptedReply = (operation, sent) =>
    okReply(operation, localUserOf(sent.envelope));

  /** Inquiries made (an unbinding asks who a device is now, for the ledger's move), with their options. */
  readonly inquiries: Array<{ serial: string; service?: string }> = [];
  /** What an inquiry answers: cleared, as `org:org-ref-1`, unless changed. */
  inquiryAnswer: InquiryAnswer = {
    kind: 'profile',
    profile: {
      outcome: 'OK 0001 Subject anonymous certificate valid',
      serviceRoles: [],
      organizationalReference: 'org-ref-1',
      customFields: {},
    },
  };

  async inquire(serial: string, options: { service?: string } = {}): Promise<InquiryAnswer> {
    this.inquiries.push({ serial, ...options });
    return this.inquiryAnswer;
  }

  async bind(serial: string, localUserId: string): Promise<BindAnswer> {
    return parseInquiryAnswer(this.#exchange('bind', 'PUT', buildBindRequest(serial, localUserId)));
  }

  async unbind(localUserId: string): Promise<OutcomeAnswer> {
    return parseOutcomeAnswer(this.#exchange('unbind', 'DELETE', buildUnbindRequest(localUserId)));
  }

  async reportIntrusion(report: IntrusionReport): Promise<IntrusionAnswer> {
    return parseIntrusionAnswer(this.#exchange('report-intrusion', 'PUT', buildIntrusionReport(report)));
  }

  async withdrawIntrusion(reference: string): Promise<OutcomeAnswer> {
    return parseOutcomeAnswer(this.#exchange('withdraw-intrusion', 'DELETE', buildIntrusionWithdrawal(reference)));
  }

  /** "Sends" the envelope (a JSON round trip, as on the wire) and returns the scripted body, or throws. */
  #exchange(operation: IdentityOperation, method: 'PUT' | 'DELETE', envelope: unknown): string {
    const sent: SentRequest = { operation, method, envelope: JSON.parse(JSON.stringify(envelope)) };
    this.sent.push(sent);
    const scripted = this.queue.shift() ?? this.reply(operation, sent);
    if ('throws' in scripted) throw scripted.throws;
    return scripted.body;
  }
}

function localUserOf(envelope: unknown): string {
  const info = (envelope as { 'Local-User-Information'?: { 'local-user-name'?: unknown } })['Local-User-Information'];
  return typeof info?.['local-user-name'] === 'string' ? info['local-user-name'] : 'user-1';
}

/** A real DecisionCache that also remembers what it was told to forget. */
export class ForgetfulCache extends DecisionCache {
  readonly forgotten: string[] = [];
  readonly forgottenUsers: string[] = [];
  constructor(ttlMs = 60_000) {
    super({ ttlMs, staleMs: 0 });
  }
  override forget(serial: string): void {
    this.forgotten.push(serial);
    super.forget(serial);
  }
  override forgetUser(userId: string): void {
    this.forgottenUsers.push(userId);
    super.forgetUser(userId);
  }
}

/** A DecisionLog that keeps what it was given. */
export class RecordingLog implements DecisionLog {
  readonly decisions: Array<Readonly<Record<string, unknown>>> = [];
  readonly failures: Array<{ readonly message: string; readonly err: unknown }> = [];
  decision(fields: Readonly<Record<string, unknown>>): void {
    this.decisions.push(fields);
  }
  failure(message: string, err: unknown): void {
    this.failures.push({ message, err });
  }
}
