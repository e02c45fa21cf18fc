/**
 * The operations of the simulator's API (`/v1`), chosen like the real service by the HTTP method plus the
 * name of the request's single envelope. A new operation is one more entry in {@link apiOperations}: its
 * field checks go in simulator-requests.ts, its answer in simulator-wire.ts. Methods are those of the public
 * clients: the Java client's `API_Channel` (PUT for every write, DELETE for `Local-User-Reference`) and the
 * WordPress plugin's `Identity_Plus_API` (POST for the inquiry, DELETE for `Intrusion-Reference`).
 */
import { outcome } from './simulator-outcomes';
import {
  checkBind,
  checkInquiry,
  checkIntent,
  checkIntrusionReference,
  checkIntrusionReport,
  checkUnbind,
} from './simulator-requests';
import { type SimulatorCounter, type SimulatorState, boundName } from './simulator-state';
import {
  SIMULATOR_OUTCOMES,
  type WireAnswer,
  associatedProfile,
  inquiryAnswer,
  intentReference,
  isOkOutcome,
  outcomeCode,
  problemOf,
  problemResponse,
  referenceNumber,
  simpleResponse,
} from './simulator-wire';

/** One API operation. */
export interface ApiOperation {
  /** Counter bumped for every request of this operation, answered by a fault or not. */
  readonly counter?: SimulatorCounter;
  /** Whether an `outcome` fault replaces this operation's answer. */
  readonly outcomeFault: boolean;
  /** The answer to the fields of the request envelope. */
  readonly answer: (body: Record<string, unknown>) => WireAnswer;
}

/** The key of an operation in {@link apiOperations}: `"<METHOD> <Envelope-Name>"`. */
export function operationKey(method: string, envelope: string): string {
  return `${method} ${envelope}`;
}

/** The operations the simulator serves, by {@link operationKey}; settings are read at each request. */
export function apiOperations(state: SimulatorState): ReadonlyMap<string, ApiOperation> {
  const inquiry: ApiOperation = {
    counter: 'inquiries',
    outcomeFault: true,
    answer: (body) => {
      const checked = checkInquiry(body, state.settings.managedServices);
      if (!checked.ok) return problemResponse(checked.problem);
      const { serial, service } = checked.value;
      return inquiryAnswer(state.identity(serial), state.settings.problemEnvelope, { service });
    },
  };
  const intent: ApiOperation = {
    counter: 'intents',
    outcomeFault: false,
    answer: (body) => {
      const checked = checkIntent(body, state.settings.acceptedIntentTypes);
      if (!checked.ok) return problemResponse(checked.problem);
      return intentReference(state.createIntent(checked.value.returnUrl, checked.value.strictMassl));
    },
  };
  return new Map([
    // The public clients send the inquiry as GET with a body or as POST; both are answered alike.
    [operationKey('POST', 'Identity-Inquiry'), inquiry],
    [operationKey('GET', 'Identity-Inquiry'), inquiry],
    [operationKey('PUT', 'Intent'), intent],
    [operationKey('PUT', 'Local-User-Information'), { counter: 'bindings', outcomeFault: false, answer: bind }],
    [operationKey('DELETE', 'Local-User-Reference'), { counter: 'unbindings', outcomeFault: false, answer: unbind }],
    [operationKey('PUT', 'Intrusion-Report'), { counter: 'intrusionReports', outcomeFault: false, answer: report }],
    [
      operationKey('DELETE', 'Intrusion-Reference'),
      { counter: 'intrusionWithdrawals', outcomeFault: false, answer: withdraw },
    ],
  ]);

  /**
   * Binds a local user name to an identity, once: an identity bound already is ER 0003 (to the same name
   * too: "this can only be done once"), a name bound to another identity ER 0004.
   */
  function bind(body: Record<string, unknown>): WireAnswer {
    const checked = checkBind(body);
    if (!checked.ok) return problemResponse(checked.problem);
    const { serial, localUserName, tokensOfTrust } = checked.value;
    const identity = state.identity(serial);
    if (!identity || !isOkOutcome(identity.outcome)) return problemOf(identity);
    const current = boundName(identity);
    if (current !== undefined) {
      const message =
        current === localUserName
          ? 'This local user is already bound to the identity; a binding is made once.'
          : 'The identity is already bound to another local user of this service.';
      return simpleResponse(outcome('ER 0003'), message);
    }
    if (state.boundSerial(localUserName) !== undefined) {
      return simpleResponse(outcome('ER 0004'), 'The local user name is already bound to another identity.');
    }
    const bound = {
      ...identity,
      localUserId: localUserName,
      localUserName,
      localTrust: (identity.localTrust ?? 0) + (tokensOfTrust ?? 0),
    };
    state.setIdentity(serial, bound);
    return associatedProfile(bound);
  }

  /** Unbinds a local user name; the identity is answered OK 0001 again. */
  function unbind(body: Record<string, unknown>): WireAnswer {
    const checked = checkUnbind(body);
    if (!checked.ok) return problemResponse(checked.problem);
    const serial = state.boundSerial(checked.value.localUserName);
    const identity = serial === undefined ? undefined : state.identity(serial);
    if (serial === undefined || !identity) {
      return simpleResponse(outcome('ER 0005'), 'No identity is bound to this local user name.');
    }
    const { localUserId: _id, localUserName: _name, ...unbound } = identity;
    const stillOk = outcomeCode(identity.outcome) === 'OK 0002' ? SIMULATOR_OUTCOMES.VALID : identity.outcome;
    state.setIdentity(serial, { ...unbound, outcome: stillOk });
    return simpleResponse(SIMULATOR_OUTCOMES.DISASSOCIATED, 'The local user is no longer bound to the identity.');
  }

  /**
   * Records an intrusion, one open report per certificate. Any certificate may be reported, known to the
   * simulator or not: "an intrusion can be reported on any incoming offending certificate" (Java client,
   * `Intrusion_Report.java`). A known identity counts it in `local-intrusions`.
   */
  function report(body: Record<string, unknown>): WireAnswer {
    const checked = checkIntrusionReport(body);
    if (!checked.ok) return problemResponse(checked.problem);
    const { serial } = checked.value;
    if (state.intrusionsOn(serial).length > 0) {
      return simpleResponse(outcome('ER 0007'), 'Withdraw the open report on this certificate first.');
    }
    const reference = state.addIntrusion(checked.value);
    const identity = state.identity(serial);
    if (identity) state.setIdentity(serial, { ...identity, localIntrusions: (identity.localIntrusions ?? 0) + 1 });
    return referenceNumber(reference);
  }

  /** Withdraws an intrusion report by the reference it was answered with. */
  function withdraw(body: Record<string, unknown>): WireAnswer {
    const checked = checkIntrusionReference(body);
    if (!checked.ok) return problemResponse(checked.problem);
    const reported = state.intrusion(checked.value.value);
    if (!reported) return simpleResponse(outcome('ER 0010'), 'No open intrusion report has this reference.');
    state.removeIntrusion(reported.reference);
    const identity = state.identity(reported.serial);
    if (identity) {
      const localIntrusions = Math.max(0, (identity.localIntrusions ?? 0) - 1);
      state.setIdentity(reported.serial, { ...identity, localIntrusions });
    }
    return simpleResponse(SIMULATOR_OUTCOMES.ACKNOWLEDGED, 'The intrusion report was withdrawn.');
  }
}
