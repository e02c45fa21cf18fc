/**
 * The options of the Identity Plus simulator (local/identity-plus-simulator.ts), in a module of their own so
 * the server stays about serving. Defaults are applied by the server.
 */
import type { KeyPair } from './dev-pki';
import type { ProblemEnvelope } from './simulator-settings';
import type { SimulatorSeedEntry } from './simulator-state';

/** Options of the `IdentityPlusSimulator`. */
export interface IdentityPlusSimulatorOptions {
  /** Server certificate (leaf + intermediate), its key, and the CA chain client certificates must chain to. */
  readonly tls: { readonly cert: string; readonly key: string; readonly ca: string };
  /**
   * Our API ("service agent") certificates, PEM: only these may call the API (`/v1`) and the admin API.
   * Device certificates come from the same CA (for the sign-on page) and must not be able to ask about,
   * or rewrite, anyone's identity: they get `ER 0012` (a device it knows) or `ER 1101` on the API and 403 on
   * the admin API and the trust chain.
   */
  readonly apiClients: readonly string[];
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** @default 0 (any free port) */
  readonly port?: number;
  /**
   * The CA that renewals (`POST /api/v1`, renew_certificate) issue new API certificates from: the one that
   * issued `apiClients`. @default - renewals are answered with an error
   */
  readonly issuer?: KeyPair;
  /** Lifetime of a renewed API certificate. @default 365 */
  readonly renewedLifetimeDays?: number;
  /** Identities present at start and after every reset. */
  readonly seed?: ReadonlyArray<SimulatorSeedEntry>;
  /** How long an intent can be used after creation. @default 30000 */
  readonly intentTtlMs?: number;
  /**
   * Intent types accepted by `PUT Intent`, of validate, discover, request, bind, assume ownership (also
   * spelled assume-ownership or assume_ownership) and befriend; another of these gets `ER 0009 Request
   * Denied`, any other type `ER 0001`. @default ['discover']
   */
  readonly acceptedIntentTypes?: readonly string[];
  /**
   * Which envelope carries a non-OK inquiry outcome: `Simple-Response`, or `Identity-Profile` (outcome and
   * reputation fields, as Identity Plus's own gateway reads them). @default 'Simple-Response'
   */
  readonly problemEnvelope?: ProblemEnvelope;
  /**
   * Services an `Identity-Inquiry` may name in `service` (asked on their behalf: the profile then has the
   * identity's roles in that service); another service gets `ER 0009`. @default ['managed.plusgate.local']
   */
  readonly managedServices?: readonly string[];
  /** Request body limit for the API and the admin API. @default 65536 */
  readonly maxBodyBytes?: number;
  /** Clock in epoch milliseconds, for intent expiry. @default Date.now */
  readonly now?: () => number;
  /** One line per request and per refused handshake. @default silent */
  readonly log?: (line: string) => void;
}
