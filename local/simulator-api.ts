/**
 * The operations of the simulator's API (`/v1`), chosen like the real service by the HTTP method plus the
 * name of the request's single envelope. A new operation is one more entry in {@link apiOperations}: its
 * field checks go in simulator-input.ts, its answer in simulator-wire.ts.
 */
import { checkInquiry, checkIntent } from './simulator-input';
import type { SimulatorCounter, SimulatorState } from './simulator-state';
import { type WireAnswer, inquiryAnswer, intentReference, invalidParameter } from './simulator-wire';

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

/** The operations the simulator serves, by {@link operationKey}. */
export function apiOperations(
  state: SimulatorState,
  acceptedIntentTypes: readonly string[],
): ReadonlyMap<string, ApiOperation> {
  const inquiry: ApiOperation = {
    counter: 'inquiries',
    outcomeFault: true,
    answer: (body) => {
      const checked = checkInquiry(body);
      if (!checked.ok) return invalidParameter(checked.message);
      return inquiryAnswer(state.identity(checked.value.serial));
    },
  };
  const intent: ApiOperation = {
    counter: 'intents',
    outcomeFault: false,
    answer: (body) => {
      const checked = checkIntent(body, acceptedIntentTypes);
      if (!checked.ok) return invalidParameter(checked.message);
      return intentReference(state.createIntent(checked.value.returnUrl));
    },
  };
  return new Map([
    // The public clients send the inquiry as GET with a body or as POST; both are answered alike.
    [operationKey('POST', 'Identity-Inquiry'), inquiry],
    [operationKey('GET', 'Identity-Inquiry'), inquiry],
    [operationKey('PUT', 'Intent'), intent],
  ]);
}
