/** Where handlers report what they decided: structured fields only, never certificates or keys. */
import type { AuthenticationResult } from '../domain/authenticate';

export interface DecisionLog {
  decision(fields: Readonly<Record<string, unknown>>): void;
  failure(message: string, err: unknown): void;
}

/** Logs one decision of `route` about the certificate `serial`. */
export function logDecision(
  log: DecisionLog | undefined,
  route: string,
  serial: string,
  result: AuthenticationResult,
): void {
  log?.decision({
    route,
    decision: result.decision,
    reason: result.reason,
    outcome: result.outcome,
    serial,
    userId: result.user?.id,
    cached: result.cached,
    degraded: result.degraded,
    period: result.period,
  });
}
