/**
 * Every outcome of the Identity Plus service API, code and words, exactly as the Java client's `Outcome`
 * enum spells them (its names with `_` read as a space: the Java and PHP clients turn an answer's outcome
 * back into the enum by replacing spaces with `_`, so other words would not parse there). Source:
 * IdentityPlus/Integration-API-Client-Java @ 77b64b55242817a77c32561c7e3ba0852dd0ad30,
 * src/identity/plus/api/communication/Outcome.java; the PHP client's lib/identity_plus/api/Outcome.php has
 * the same words. The one table of them in the simulator.
 */

/** Outcome words by code. */
export const OUTCOME_WORDS = {
  'OK 0000': 'Acknowledged',
  'OK 0001': 'Subject anonymous certificate valid',
  'OK 0002': 'Subject anonymous certificate valid and user uid associated',
  'OK 0100': 'Subject user successfully associated to Identity Plus identity',
  'OK 0101': 'Subject user disassociated',
  'OK 0102': 'Subject user updated',
  'OK 0103': 'Identity Plus certificate found via legacy method',

  'PB 0000': 'No Identity Plus anonymous certificate',
  'PB 0001': 'No Identity Plus certificate found via legacy method',
  'PB 0002': 'Expired Identity Plus anonymous certificate',
  'PB 0003': 'Identity Plus anonymous certificate needs validation',
  'PB 0004': 'Revoked Identity Plus anonymous certificate',
  'PB 0005': 'Intruder Certificate',
  'PB 0006': 'Unknown Identity Plus anonymous certificate',
  'PB 0007': 'Crypto Failure package was tempered with',
  'PB 0008': 'Authorization Expired',

  'ER 0000': 'Undetermined error',
  'ER 0001': 'Unknown request error',
  'ER 0002': 'No such operation for object',
  'ER 0003': 'Subject user name is already associated',
  'ER 0004': 'Subject user name is already associated to a different identity',
  'ER 0005': 'Subject user name was never associated',
  'ER 0006': 'Return URL is too long',
  'ER 0007': 'An intrusion was already reported on this certificate',
  'ER 0008': 'Error Parsing Request',
  'ER 0009': 'Request Denied',
  'ER 0010': 'Insufficient Reference Information',
  'ER 0011': 'Incomplete Message Error',
  'ER 0012': 'Expecting Service Agent',

  'ER 1100': 'No Identity Plus API certificate presented',
  'ER 1101': 'Unknown Identity Plus API certificate',
  'ER 1102': 'Expired Identity Plus API certificate',
  'ER 1103': 'Revoked Identity Plus API certificate',
  'ER 1104': 'Number of connectable identities exceeded',
  'ER 1105': 'Suspended Identity Plus API certificate',
  'ER 1106': 'General Identity Plus API Problem',
} as const;

/** A code the service answers, e.g. `"ER 0011"`. */
export type OutcomeCode = keyof typeof OUTCOME_WORDS;

/** The full outcome string of a code: `"ER 0011 Incomplete Message Error"`. */
export function outcome(code: OutcomeCode): string {
  return `${code} ${OUTCOME_WORDS[code]}`;
}

/** The full outcome strings of every code, in the table's order. */
export function allOutcomes(): string[] {
  return (Object.keys(OUTCOME_WORDS) as OutcomeCode[]).map(outcome);
}
