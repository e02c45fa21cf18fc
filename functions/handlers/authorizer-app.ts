/**
 * A Lambda REQUEST authorizer for other mutual-TLS REST APIs: the same decision, cache and billing
 * records as the edge flow, answered as an IAM policy. Fails closed: anything but allow is a Deny.
 * API Gateway cannot key its authorizer cache on the client certificate, so result caching must stay off
 * (the construct sets TTL 0); plusgate's own per-serial decision cache keeps repeat calls cheap.
 */
import type { APIGatewayAuthorizerResult, APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import type { Authenticator } from '../domain/authenticate';
import { parseCertificatePem } from '../domain/certificate';
import type { Truststore } from '../domain/certificate-chain';
import { type DecisionLog, logDecision } from '../http/decision-log';

export interface AuthorizerDeps {
  readonly authenticator: Authenticator;
  /**
   * The Identity Plus CAs. Checked here too, not left to the other API's truststore: if that one ever held
   * another CA, a certificate from it carrying a victim's serial would otherwise be allowed as the victim.
   */
  readonly truststore: Truststore;
  readonly now: () => number;
  readonly log?: DecisionLog;
}

/** Builds the authorizer function. */
export function createAuthorizer(
  deps: AuthorizerDeps,
): (event: APIGatewayRequestAuthorizerEvent) => Promise<APIGatewayAuthorizerResult> {
  return async (event) => {
    const pem = event.requestContext?.identity?.clientCert?.clientCertPem;
    if (!pem) return policy('Deny', event.methodArn, 'anonymous', { decision: 'deny', reason: 'no-certificate' });
    let serial = 'unknown';
    try {
      const cert = parseCertificatePem(pem, 'client certificate');
      serial = cert.serial;
      try {
        deps.truststore.verify(cert, new Date(deps.now()), 'client certificate');
      } catch (err) {
        deps.log?.failure('authorizer: certificate does not chain to the Identity Plus truststore', err);
        return policy('Deny', event.methodArn, `serial:${serial}`, {
          decision: 'deny',
          reason: 'invalid-certificate',
          serial,
        });
      }
      const result = await deps.authenticator.authenticate(
        serial,
        event.requestContext.identity.sourceIp ? { ip: event.requestContext.identity.sourceIp } : {},
      );
      logDecision(deps.log, 'authorizer', serial, result);
      const principal = result.user?.id ?? `serial:${serial}`;
      if (result.decision !== 'allow')
        return policy('Deny', event.methodArn, principal, { decision: result.decision, reason: result.reason, serial });
      return policy('Allow', event.methodArn, principal, {
        decision: 'allow',
        reason: result.reason,
        userId: principal,
        // Comma-separated like forward-auth's X-Plusgate-Roles; a comma inside a role is %2C.
        roles: result.roles.map((r) => r.replace(/%/g, '%25').replace(/,/g, '%2C')).join(','),
        serial,
        degraded: result.degraded,
      });
    } catch (err) {
      // Unreadable certificate, ledger write failed: no access (and for the ledger, nothing to bill).
      deps.log?.failure('authorizer failed closed', err);
      return policy('Deny', event.methodArn, `serial:${serial}`, { decision: 'error', reason: 'unavailable' });
    }
  };
}

/** A Deny for `methodArn`, when nothing else can be said. */
export function denyAll(methodArn: string): APIGatewayAuthorizerResult {
  return policy('Deny', methodArn, 'anonymous', { decision: 'error', reason: 'unavailable' });
}

function policy(
  effect: 'Allow' | 'Deny',
  methodArn: string,
  principalId: string,
  context: Record<string, string | boolean>,
): APIGatewayAuthorizerResult {
  return {
    principalId,
    policyDocument: {
      Version: '2012-10-17',
      Statement: [{ Action: 'execute-api:Invoke', Effect: effect, Resource: methodArn }],
    },
    context,
  };
}
