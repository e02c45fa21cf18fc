/**
 * The simulator's demo seed: the dev PKI's demo people (local/dev-pki.ts, `demoSeed`) with what only the
 * simulator knows about them: alice's roles in the managed service `managed.plusgate.local`, answered to an
 * inquiry that asks on that service's behalf (`"service": "managed.plusgate.local"`).
 */
import { type DevPki, demoSeed } from './dev-pki';
import type { SimulatorSeedEntry } from './simulator-state';

/** The managed service the demo seed gives roles in (one of the simulator's default managed services). */
export const DEMO_MANAGED_SERVICE = 'managed.plusgate.local';

/** The demo people as the simulator seeds them. */
export function demoSimulatorSeed(pki: DevPki): SimulatorSeedEntry[] {
  const alice = pki.devices.alice.serial;
  return demoSeed(pki).map(({ serial, identity }) =>
    serial === alice
      ? { serial, identity: { ...identity, serviceRoles: { [DEMO_MANAGED_SERVICE]: ['org. member'] } } }
      : { serial, identity },
  );
}
