/**
 * What the Identity Plus simulator remembers: identities by decimal serial (their local user bindings
 * included), intents by reference, intrusion reports by reference, the settings, the injected fault and the
 * request counters. No HTTP and no input checking here: callers hand in serials already normalised and
 * identities already validated (see simulator-input.ts).
 */
import { randomBytes } from 'node:crypto';
import type { RenewalFault } from './simulator-self-authority';
import type { SimulatorSettings } from './simulator-settings';

/** What the simulator knows about one device certificate serial (admin and seed shape, camelCase). */
export interface SimulatedIdentity {
  /** Full outcome string; `OK 0001` is answered as `OK 0002` when `localUserId` is set. */
  readonly outcome: string;
  /** Roles in our service, answered as `service-roles`. */
  readonly roles: readonly string[];
  /** Roles in services we manage, by service: answered when an inquiry asks on behalf of that service. */
  readonly serviceRoles?: Readonly<Record<string, readonly string[]>>;
  readonly organizationalReference?: string;
  readonly organizationalName?: string;
  readonly organizationalEmail?: string;
  /** The local user our service bound to this identity (a bind sets both to the name it was given). */
  readonly localUserId?: string;
  readonly localUserName?: string;
  readonly trustScore?: number;
  readonly sitesFrequented?: number;
  readonly averageIdentityAge?: number;
  readonly maxIdentityAge?: number;
  readonly localTrust?: number;
  readonly localIntrusions?: number;
  readonly trustSponsors?: readonly string[];
  /** Organisation custom fields, answered as extra keys of `Identity-Profile`. */
  readonly customFields?: Readonly<Record<string, unknown>>;
}

/**
 * A fault injected into API answers (`/v1` and the self-authority `/api/v1`; the admin API and sign-on page
 * are never faulted). `outcome` changes `/v1` answers only, `renewal` self-authority renewals only; the
 * transport faults apply to both.
 */
export type SimulatorFault =
  | { readonly mode: 'none' }
  | { readonly mode: 'latency'; readonly latencyMs: number }
  | { readonly mode: 'http500' }
  | { readonly mode: 'drop' }
  | { readonly mode: 'garbage' }
  | { readonly mode: 'outcome'; readonly outcome: string }
  | { readonly mode: 'renewal'; readonly renewal: RenewalFault };

/** Requests the simulator received since start or the last reset, including those answered by a fault. */
export interface SimulatorStats {
  /** Every request to the API path, whatever it asked. */
  readonly apiRequests: number;
  /** `Identity-Inquiry` operations (POST or GET). */
  readonly inquiries: number;
  /** `Intent` operations (PUT). */
  readonly intents: number;
  /** Visits to a sign-on page `/<intent-reference>`. */
  readonly signons: number;
  /** Requests to the self-authority API (`POST /api/v1`), renewals or not. */
  readonly renewals: number;
  /** `Local-User-Information` operations (PUT, bind a local user), answered OK or not. */
  readonly bindings: number;
  /** `Local-User-Reference` operations (DELETE, unbind a local user). */
  readonly unbindings: number;
  /** `Intrusion-Report` operations (PUT). */
  readonly intrusionReports: number;
  /** `Intrusion-Reference` operations (DELETE, withdraw a report). */
  readonly intrusionWithdrawals: number;
  /** Requests for the trust chain (`/download/trust-chain`). */
  readonly trustChains: number;
}

/** The name of one counter in {@link SimulatorStats}. */
export type SimulatorCounter = keyof SimulatorStats;

/** One seeded identity. */
export interface SimulatorSeedEntry {
  /** Certificate serial, decimal or `0x`-hex. */
  readonly serial: string;
  readonly identity: SimulatedIdentity;
}

/** What a visit to the sign-on page of an intent finds: only `claimed` uses the intent up. */
export type IntentClaim =
  | { readonly status: 'unknown' | 'used' | 'expired' }
  | { readonly status: 'claimed'; readonly returnUrl: string; readonly strictMassl: boolean };

/** An intrusion report that was not withdrawn. */
export interface StoredIntrusion {
  readonly reference: string;
  /** Decimal serial of the reported certificate. */
  readonly serial: string;
  readonly severity: string;
  readonly message?: string;
  readonly intruderIpAddress?: string;
  readonly intrudedUrl?: string;
  readonly intrudingRequestHeaders?: readonly string[];
  readonly additionalInformation?: string;
  /** Epoch milliseconds. */
  readonly reportedAt: number;
}

/** Options of {@link SimulatorState}. */
export interface SimulatorStateOptions {
  /** Identities present at start and after every reset: serials decimal, identities validated. */
  readonly seed: ReadonlyArray<SimulatorSeedEntry>;
  /** How long an intent can be used after creation. */
  readonly intentTtlMs: number;
  /** Clock in epoch milliseconds. */
  readonly now: () => number;
  /** Settings at start and after every reset. */
  readonly settings: SimulatorSettings;
}

/** At most this many intents are kept; the oldest go first. */
export const MAX_INTENTS = 10_000;

interface StoredIntent {
  readonly returnUrl: string;
  readonly strictMassl: boolean;
  readonly createdAt: number;
  used: boolean;
}

/** The simulator's memory; starts as after a reset. */
export class SimulatorState {
  private readonly seed: ReadonlyArray<SimulatorSeedEntry>;
  private readonly intentTtlMs: number;
  private readonly now: () => number;
  private readonly identities = new Map<string, SimulatedIdentity>();
  private readonly intents = new Map<string, StoredIntent>();
  private readonly intrusions = new Map<string, StoredIntrusion>();
  private readonly initialSettings: SimulatorSettings;
  private currentSettings: SimulatorSettings;
  private currentFault: SimulatorFault = { mode: 'none' };
  private counters: Record<SimulatorCounter, number> = emptyStats();

  constructor(opts: SimulatorStateOptions) {
    this.seed = opts.seed;
    this.intentTtlMs = opts.intentTtlMs;
    this.now = opts.now;
    this.initialSettings = opts.settings;
    this.currentSettings = opts.settings;
    this.reset();
  }

  /** Back to the seeded identities and the first settings: no fault, intents or intrusions, zero counters. */
  reset(): void {
    this.identities.clear();
    for (const { serial, identity } of this.seed) this.identities.set(serial, structuredClone(identity));
    this.intents.clear();
    this.intrusions.clear();
    this.currentSettings = this.initialSettings;
    this.currentFault = { mode: 'none' };
    this.counters = emptyStats();
  }

  /** Every identity, by decimal serial (not copies). */
  allIdentities(): ReadonlyMap<string, SimulatedIdentity> {
    return this.identities;
  }

  /** The decimal serial of the identity a local user name is bound to (its name, else its id), if any. */
  boundSerial(localUserName: string): string | undefined {
    for (const [serial, identity] of this.identities) {
      if (boundName(identity) === localUserName) return serial;
    }
    return undefined;
  }

  /** The stored identity of a decimal serial (not a copy: do not hand it out to callers that may change it). */
  identity(serial: string): SimulatedIdentity | undefined {
    return this.identities.get(serial);
  }

  /** True when a decimal serial has an identity. */
  hasIdentity(serial: string): boolean {
    return this.identities.has(serial);
  }

  /** Creates or replaces the identity of a decimal serial. */
  setIdentity(serial: string, identity: SimulatedIdentity): void {
    this.identities.set(serial, identity);
  }

  /** Forgets a decimal serial; true if it was known. */
  deleteIdentity(serial: string): boolean {
    return this.identities.delete(serial);
  }

  /** The settings in force. */
  get settings(): SimulatorSettings {
    return this.currentSettings;
  }

  set settings(settings: SimulatorSettings) {
    this.currentSettings = settings;
  }

  /** The fault applied to API answers. */
  get fault(): SimulatorFault {
    return this.currentFault;
  }

  set fault(fault: SimulatorFault) {
    this.currentFault = fault;
  }

  /** Adds one to a counter. */
  count(counter: SimulatorCounter): void {
    this.counters[counter]++;
  }

  /** Counters since start or the last reset (a copy). */
  stats(): SimulatorStats {
    return { ...this.counters };
  }

  /** Stores a new single-use intent and returns its url-safe reference. */
  createIntent(returnUrl: string, strictMassl = true): string {
    this.pruneIntents();
    const reference = randomBytes(24).toString('base64url');
    this.intents.set(reference, { returnUrl, strictMassl, createdAt: this.now(), used: false });
    return reference;
  }

  /** Uses up an intent if it exists, was not used and has not expired. */
  claimIntent(reference: string): IntentClaim {
    const intent = this.intents.get(reference);
    if (!intent) return { status: 'unknown' };
    if (intent.used) return { status: 'used' };
    if (this.now() - intent.createdAt > this.intentTtlMs) return { status: 'expired' };
    intent.used = true;
    return { status: 'claimed', returnUrl: intent.returnUrl, strictMassl: intent.strictMassl };
  }

  /** Stores an intrusion report and returns its reference. */
  addIntrusion(report: Omit<StoredIntrusion, 'reference' | 'reportedAt'>): string {
    const reference = randomBytes(18).toString('base64url');
    this.intrusions.set(reference, { ...structuredClone(report), reference, reportedAt: this.now() });
    return reference;
  }

  /** The report of a reference, if it was made and not withdrawn. */
  intrusion(reference: string): StoredIntrusion | undefined {
    return this.intrusions.get(reference);
  }

  /** Withdraws a report; true if it was there. */
  removeIntrusion(reference: string): boolean {
    return this.intrusions.delete(reference);
  }

  /** The reports not withdrawn on a decimal serial, oldest first. */
  intrusionsOn(serial: string): StoredIntrusion[] {
    return [...this.intrusions.values()].filter((report) => report.serial === serial);
  }

  /** Keeps the intent table bounded: long-expired intents go (a late visit then gets 404, not 410). */
  private pruneIntents(): void {
    const horizon = this.now() - Math.max(this.intentTtlMs * 10, 10 * 60_000);
    for (const [reference, intent] of this.intents) {
      if (intent.createdAt < horizon || this.intents.size >= MAX_INTENTS) this.intents.delete(reference);
      else break; // insertion order is creation order
    }
  }
}

/** The local user name an identity is bound under: its name, else its id (seeds may set only the id). */
export function boundName(identity: SimulatedIdentity): string | undefined {
  return identity.localUserName || identity.localUserId || undefined;
}

function emptyStats(): Record<SimulatorCounter, number> {
  return {
    apiRequests: 0,
    inquiries: 0,
    intents: 0,
    signons: 0,
    renewals: 0,
    bindings: 0,
    unbindings: 0,
    intrusionReports: 0,
    intrusionWithdrawals: 0,
    trustChains: 0,
  };
}
