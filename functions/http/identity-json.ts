/** The JSON shape of a decision about a certificate, shared by /whoami and /verify. */
import type { AuthenticationResult } from '../domain/authenticate';

/** What is known of the device: everything when a certificate was given, the serial alone otherwise. */
export interface DeviceFacts {
  readonly serial: string;
  readonly subject?: string;
  readonly deviceType?: string;
  readonly notAfter?: Date;
}

export function identityJson(device: DeviceFacts, result: AuthenticationResult) {
  return {
    decision: result.decision,
    reason: result.reason,
    outcome: result.outcome ?? null,
    user: {
      id: result.user?.id ?? null,
      name: result.user?.name ?? null,
      email: result.user?.email ?? null,
      organizationalReference: result.user?.organizationalReference ?? null,
      localUserId: result.user?.localUserId ?? null,
    },
    roles: result.roles,
    device: {
      serial: device.serial,
      subject: device.subject ?? null,
      type: device.deviceType ?? null,
      notAfter: device.notAfter?.toISOString() ?? null,
    },
    cached: result.cached,
    degraded: result.degraded,
    period: result.period,
  };
}
