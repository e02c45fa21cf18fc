/**
 * The service API's identity operations (served by the verify function, IAM-authorised in AWS):
 * - `PUT /bindings` `{certificate | serial, localUserId}`: binds the certificate's owner to our service's
 *   own user id at Identity Plus. From then on Identity Plus answers OK 0002 with `local-user-id`, and
 *   plusgate bills and names the person `local:<localUserId>`;
 * - `DELETE /bindings/{localUserId}`: unbinds it (the person is `org:`/`serial:` again);
 * - `POST /intrusions` `{certificate | serial, severity, message, ip?, url?}`: reports an intruding
 *   certificate; 201 with Identity Plus's reference;
 * - `DELETE /intrusions/{reference}`: withdraws a report.
 * Identity Plus's problem outcomes become 4xx (already bound, unknown certificate…) or 503 (our API
 * certificate, the service) through functions/domain/identity-operations.ts. Wire: docs/identityplus-api.md.
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { isIP } from 'node:net';
import { IDENTITY_ROUTES } from '../config/names';
import { parseCertificatePem } from '../domain/certificate';
import type { Truststore } from '../domain/certificate-chain';
import type { DecisionCache } from '../domain/decision-cache';
import { userKey } from '../domain/decision';
import { InvalidInputError } from '../domain/errors';
import { INTRUSION_SEVERITIES, type IntrusionSeverity } from '../domain/identity-plus';
import { type IdentityOperationsPort, type LedgerMovesPort, isOk, refusal } from '../domain/identity-operations';
import { periodOf } from '../domain/billing-period';
import { checkLocalUserId, checkReference } from '../adapters/identity-plus-wire-users';
import type { DecisionLog } from '../http/decision-log';
import { describeError, errorResponse, jsonResponse } from '../http/http-responses';
import { certificateOrSerial, readJsonObject } from '../http/json-body';

export interface IdentityOpsDeps {
  readonly identityPlus: IdentityOperationsPort;
  /** The CAs a submitted certificate must chain to (the edge API's truststore). */
  readonly truststore: Truststore;
  /** This container's decision cache: a binding changes who a certificate is, so its entries are dropped. */
  readonly cache: Pick<DecisionCache, 'forget' | 'forgetUser'>;
  readonly now: () => number;
  readonly log?: DecisionLog;
  /**
   * Where a binding moves the person's ledger item of the current period to their new key, so the period
   * bills them once. Absent: no move (the person may then count under both keys in that period).
   */
  readonly ledger?: LedgerMovesPort;
  /** The billing anchor day, for the current period. @default 1 */
  readonly billingAnchorDay?: number;
  /** `identityPlusService`: asked on behalf of when an unbinding looks up the person's new key. */
  readonly service?: string;
}

const BIND_FIELDS = new Set(['certificate', 'serial', 'localUserId']);
const INTRUSION_FIELDS = new Set(['certificate', 'serial', 'severity', 'message', 'ip', 'url']);

type Route = (deps: IdentityOpsDeps, event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult>;

/** Method → operation, per resource. */
const ROUTES: Readonly<Record<string, Readonly<Record<string, Route>>>> = {
  [IDENTITY_ROUTES.BINDINGS]: { PUT: bind },
  [IDENTITY_ROUTES.BINDING]: { DELETE: unbind },
  [IDENTITY_ROUTES.INTRUSIONS]: { POST: reportIntrusion },
  [IDENTITY_ROUTES.INTRUSION]: { DELETE: withdrawIntrusion },
};

/** Whether `resource` is one of the identity operations' routes. */
export function isIdentityRoute(resource: string | undefined): boolean {
  return resource !== undefined && Object.hasOwn(ROUTES, resource);
}

/** Builds the handler of the identity operations' routes. */
export function createIdentityOpsHandler(
  deps: IdentityOpsDeps,
): (event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult> {
  return async (event) => {
    const resource = event.resource ?? event.path;
    const methods = Object.hasOwn(ROUTES, resource) ? ROUTES[resource] : undefined;
    if (!methods) return jsonResponse(404, { message: `no route for ${JSON.stringify(event.path.slice(0, 80))}` });
    const route = Object.hasOwn(methods, event.httpMethod) ? methods[event.httpMethod] : undefined;
    if (!route) {
      const allowed = Object.keys(methods).join(', ');
      return jsonResponse(
        405,
        { message: `${event.httpMethod.slice(0, 20)} is not supported on ${resource}: use ${allowed}` },
        { Allow: allowed },
      );
    }
    try {
      return await route(deps, event);
    } catch (err) {
      if (describeError(err).statusCode >= 500) deps.log?.failure(`${event.httpMethod} ${resource} failed`, err);
      return errorResponse(err, true);
    }
  };
}

async function bind(deps: IdentityOpsDeps, event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
  const fields = readJsonObject(
    event,
    BIND_FIELDS,
    '{"certificate": "<PEM>" or "serial": "<serial>", "localUserId": "<id>"}',
  );
  const serial = deviceSerial(deps, fields);
  const localUserId = checkLocalUserId(fields.localUserId);
  const answer = await deps.identityPlus.bind(serial, localUserId);
  const outcome = answer.kind === 'profile' ? answer.profile.outcome : answer.outcome;
  if (answer.kind === 'problem' || !isOk(outcome)) {
    throw refusal('bind', outcome, answer.kind === 'problem' ? answer.message : undefined);
  }
  const profile = answer.profile;
  // The person's key before the binding (their other devices may be cached under it) and after it.
  const before = userKey({ ...profile, localUserId: undefined, localUserName: undefined }, serial);
  const userId = userKey({ ...profile, localUserId: profile.localUserId ?? localUserId }, serial);
  deps.cache.forget(serial);
  deps.cache.forgetUser(before);
  await moveLedgerItem(deps, before, userId);
  deps.log?.decision({ route: `PUT ${IDENTITY_ROUTES.BINDINGS}`, operation: 'bind', serial, userId, outcome });
  return jsonResponse(200, { localUserId, userId, serial, outcome });
}

async function unbind(deps: IdentityOpsDeps, event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
  const localUserId = checkLocalUserId(event.pathParameters?.localUserId, 'localUserId');
  const answer = await deps.identityPlus.unbind(localUserId);
  if (!isOk(answer.outcome)) throw refusal('unbind', answer.outcome, answer.message);
  deps.cache.forgetUser(`local:${localUserId}`);
  // Who the person is now: Identity Plus's answer for one of the devices recorded under the bound key.
  await moveLedgerItem(deps, `local:${localUserId}`, async (old) => {
    const serial = old.devices[0];
    if (serial === undefined) return undefined;
    const answer = await deps.identityPlus.inquire(serial, deps.service ? { service: deps.service } : {});
    return answer.kind === 'profile' && isOk(answer.profile.outcome) ? userKey(answer.profile, serial) : undefined;
  });
  deps.log?.decision({
    route: `DELETE ${IDENTITY_ROUTES.BINDING}`,
    operation: 'unbind',
    localUserId,
    outcome: answer.outcome,
  });
  return jsonResponse(200, { localUserId, unbound: true, outcome: answer.outcome });
}

async function reportIntrusion(deps: IdentityOpsDeps, event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
  const fields = readJsonObject(
    event,
    INTRUSION_FIELDS,
    '{"certificate": "<PEM>" or "serial": "<serial>", "severity": "intrusive", "message": "<text>"}',
  );
  const serial = deviceSerial(deps, fields);
  const severity = intrusionSeverity(fields.severity);
  if (typeof fields.message !== 'string') throw new InvalidInputError('message must be text', { field: 'message' });
  if (fields.ip !== undefined && (typeof fields.ip !== 'string' || isIP(fields.ip) === 0)) {
    throw new InvalidInputError('ip must be an IPv4 or IPv6 address', { field: 'ip' });
  }
  if (fields.url !== undefined && typeof fields.url !== 'string') {
    throw new InvalidInputError('url must be an absolute http(s) URL', { field: 'url' });
  }
  const answer = await deps.identityPlus.reportIntrusion({
    serial,
    severity,
    message: fields.message,
    ...(fields.ip === undefined ? {} : { ip: fields.ip as string }),
    ...(fields.url === undefined ? {} : { url: fields.url as string }),
  });
  if (answer.kind === 'problem' || !isOk(answer.outcome)) {
    throw refusal('report-intrusion', answer.outcome, answer.kind === 'problem' ? answer.message : undefined);
  }
  // Identity Plus may now answer this certificate differently (an intruder): ask again next time.
  deps.cache.forget(serial);
  deps.log?.decision({
    route: `POST ${IDENTITY_ROUTES.INTRUSIONS}`,
    operation: 'report-intrusion',
    serial,
    severity,
    reference: answer.reference,
  });
  return jsonResponse(
    201,
    { reference: answer.reference, serial, severity, outcome: answer.outcome },
    { Location: `${IDENTITY_ROUTES.INTRUSIONS}/${encodeURIComponent(answer.reference)}` },
  );
}

async function withdrawIntrusion(deps: IdentityOpsDeps, event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> {
  const reference = checkReference(event.pathParameters?.reference, 'reference');
  const answer = await deps.identityPlus.withdrawIntrusion(reference);
  if (!isOk(answer.outcome)) throw refusal('withdraw-intrusion', answer.outcome, answer.message);
  deps.log?.decision({
    route: `DELETE ${IDENTITY_ROUTES.INTRUSION}`,
    operation: 'withdraw-intrusion',
    reference,
    outcome: answer.outcome,
  });
  return jsonResponse(200, { reference, withdrawn: true, outcome: answer.outcome });
}

/**
 * Moves this period's ledger item to the person's new key. The binding is done at Identity Plus whatever
 * happens here, so a failure is logged, not answered: the period then shows the person under both keys.
 */
async function moveLedgerItem(
  deps: IdentityOpsDeps,
  from: string,
  target: Parameters<LedgerMovesPort['move']>[2],
): Promise<void> {
  if (!deps.ledger) return;
  const period = periodOf(new Date(deps.now()), deps.billingAnchorDay ?? 1).id;
  try {
    await deps.ledger.move(period, from, target);
  } catch (err) {
    deps.log?.failure(`moving the ledger item of ${from} in ${period} failed; the period counts both keys`, err);
  }
}

/** The serial of the body's `certificate` (checked against the truststore) or `serial`. */
function deviceSerial(deps: IdentityOpsDeps, fields: Record<string, unknown>): string {
  const device = certificateOrSerial(fields);
  if (device.serial !== undefined) return device.serial;
  const cert = parseCertificatePem(device.certificate as string, 'certificate');
  deps.truststore.verify(cert, new Date(deps.now()), 'certificate');
  return cert.serial;
}

/** A severity by any of its spellings: case, `-` and `_` do not matter (`Policy-Violation`). */
export function intrusionSeverity(value: unknown): IntrusionSeverity {
  const spelled =
    typeof value === 'string'
      ? value
          .trim()
          .toLowerCase()
          .replace(/[-_ ]+/g, ' ')
      : undefined;
  const found = INTRUSION_SEVERITIES.find((severity) => severity === spelled);
  if (!found) {
    throw new InvalidInputError(`severity must be one of ${INTRUSION_SEVERITIES.join(', ')}`, { field: 'severity' });
  }
  return found;
}
