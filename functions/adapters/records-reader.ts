/**
 * Reads one billing period out of the ledger for the report: the period's N shard partitions as N
 * parallel, paginated Queries — never a Scan, so the cost is the period's items, not the table's. Items
 * are streamed as they arrive; each shard holds at most the page being handed out plus one page read
 * ahead (a page is at most 1 MB, so 16 shards stay under ~32 MB whatever the period's size).
 */
import {
  type AttributeValue,
  type DynamoDBClient,
  QueryCommand,
  type QueryCommandOutput,
} from '@aws-sdk/client-dynamodb';
import { setMaxListeners } from 'node:events';
import { SETTINGS } from '../config/settings';
import { RecordReadError } from '../domain/errors';
import type { PeriodRecordsPort, UserRecord } from '../domain/report';
import { periodPartitionKey } from './records-table';

/** Options of {@link RecordsReader}. */
export interface RecordsReaderOptions {
  readonly client: DynamoDBClient;
  readonly tableName: string;
  /** Shards per period: the same number the writer uses. @default 16 */
  readonly shards?: number;
  /** Items per Query page. @default - DynamoDB's 1 MB page */
  readonly pageSize?: number;
  /** Strongly consistent reads (twice the read cost). @default false: a sign-in is visible within about a second */
  readonly consistentRead?: boolean;
}

/** An item with its sort key, which orders the shard's pages (`USER#<userId>`). */
interface Entry {
  readonly sk: string;
  readonly record: UserRecord;
}

type Item = Record<string, AttributeValue>;

/** Only what the report shows: `roles` and `pk` stay in the table (a projection trims the transfer, not the read cost). */
export const PROJECTION = [
  'sk',
  'userId',
  'period',
  'name',
  'email',
  'firstSeenAt',
  'lastSeenAt',
  'authCount',
  'devices',
  'expiresAt',
  'admitted',
  'service',
  'mergedInto',
];

/** Reads the records of a period from the sharded ledger (see functions/adapters/records-table.ts). */
export class RecordsReader implements PeriodRecordsPort {
  readonly #client: DynamoDBClient;
  readonly #tableName: string;
  readonly #shards: number;
  readonly #pageSize?: number;
  readonly #consistentRead: boolean;

  constructor(options: RecordsReaderOptions) {
    this.#client = options.client;
    this.#tableName = options.tableName;
    this.#shards = options.shards ?? SETTINGS.shards.default;
    this.#pageSize = options.pageSize;
    this.#consistentRead = options.consistentRead ?? false;
    if (!Number.isInteger(this.#shards) || this.#shards < 1 || this.#shards > 1000) {
      throw new RangeError(`shards must be a whole number from 1 to 1000, got ${this.#shards}`);
    }
  }

  /** Every record of the period as pages arrive from the N parallel Queries; throws RecordReadError. */
  async *records(periodId: string): AsyncGenerator<UserRecord> {
    const controller = this.#abortController();
    // Each shard's next page is requested before the current one is handed out: one page read ahead.
    const shards = this.#shardRange().map((shard) => this.#pages(periodId, shard, controller.signal));
    const pending = new Map<number, Promise<{ shard: number; result: IteratorResult<Entry[]> }>>();
    const request = (shard: number) => {
      const p = (shards[shard] as AsyncGenerator<Entry[]>).next().then((result) => ({ shard, result }));
      // Handled here too: a page still in flight when the consumer stops rejects (aborted) with nobody awaiting it.
      p.catch(() => undefined);
      pending.set(shard, p);
    };
    try {
      for (let shard = 0; shard < this.#shards; shard++) request(shard);
      while (pending.size > 0) {
        const { shard, result } = await Promise.race(pending.values());
        if (result.done) {
          pending.delete(shard);
          continue;
        }
        request(shard);
        for (const entry of result.value) yield entry.record;
      }
    } finally {
      controller.abort();
    }
  }

  /**
   * Every record of the period in user-id order: a k-way merge of the N shards, each already sorted by
   * its sort key, so the list is ordered without holding it (a CSV that reads the same on every run).
   */
  async *recordsByUser(periodId: string): AsyncGenerator<UserRecord> {
    const controller = this.#abortController();
    try {
      const cursors = await Promise.all(
        this.#shardRange().map((shard) => ShardCursor.open(readAhead(this.#pages(periodId, shard, controller.signal)))),
      );
      for (;;) {
        let best: { cursor: ShardCursor; head: Entry } | undefined;
        for (const cursor of cursors) {
          const head = cursor.head;
          if (head && (!best || compareCodePoints(head.sk, best.head.sk) < 0)) best = { cursor, head };
        }
        if (!best) return;
        await best.cursor.advance();
        yield best.head.record;
      }
    } finally {
      controller.abort();
    }
  }

  /**
   * Cancels the Queries in flight when the consumer stops. The SDK adds a listener per request attempt
   * (N shards in parallel, plus retries) and removes it when the request closes; the signal lives for one
   * read, so Node's leak warning at 10 listeners is lifted rather than tuned.
   */
  #abortController(): AbortController {
    const controller = new AbortController();
    setMaxListeners(0, controller.signal);
    return controller;
  }

  #shardRange(): number[] {
    return Array.from({ length: this.#shards }, (_, shard) => shard);
  }

  /** The pages of one shard partition, following `LastEvaluatedKey`. */
  async *#pages(periodId: string, shard: number, signal: AbortSignal): AsyncGenerator<Entry[]> {
    let startKey: Item | undefined;
    do {
      let page: QueryCommandOutput;
      try {
        page = await this.#client.send(
          new QueryCommand({
            TableName: this.#tableName,
            KeyConditionExpression: '#pk = :pk',
            ExpressionAttributeNames: { '#pk': 'pk', ...Object.fromEntries(PROJECTION.map((a) => [`#${a}`, a])) },
            ExpressionAttributeValues: { ':pk': { S: periodPartitionKey(periodId, shard) } },
            ProjectionExpression: PROJECTION.map((a) => `#${a}`).join(', '),
            ExclusiveStartKey: startKey,
            ConsistentRead: this.#consistentRead,
            ...(this.#pageSize ? { Limit: this.#pageSize } : {}),
          }),
          { abortSignal: signal },
        );
      } catch (cause) {
        if (signal.aborted) throw cause; // the consumer stopped: nobody reads this
        const reason = reasonOf(cause);
        const what =
          reason === 'ResourceNotFoundException'
            ? `table ${this.#tableName} does not exist`
            : `${reason} reading table ${this.#tableName}`;
        throw new RecordReadError(`could not read billing period ${periodId} (shard ${shard}): ${what}`, {
          reason,
          cause,
        });
      }
      yield (page.Items ?? [])
        // An item moved to the person's new key by a binding (records-move.ts) is counted there.
        .filter((item) => item.mergedInto === undefined)
        .map((item) => ({ sk: item.sk?.S ?? '', record: userRecordOf(item, periodId) }));
      startKey = page.LastEvaluatedKey;
    } while (startKey);
  }
}

/** One shard's position in the k-way merge: the current page and the next page already on its way. */
class ShardCursor {
  #page: Entry[] = [];
  #index = 0;
  #done = false;

  private constructor(private readonly next: () => Promise<IteratorResult<Entry[]>>) {}

  static async open(next: () => Promise<IteratorResult<Entry[]>>): Promise<ShardCursor> {
    const cursor = new ShardCursor(next);
    await cursor.#fill();
    return cursor;
  }

  /** The smallest item not yet taken, or undefined when the shard is exhausted. */
  get head(): Entry | undefined {
    return this.#done ? undefined : this.#page[this.#index];
  }

  async advance(): Promise<void> {
    this.#index++;
    await this.#fill();
  }

  async #fill(): Promise<void> {
    while (!this.#done && this.#index >= this.#page.length) {
      const result = await this.next();
      if (result.done) this.#done = true;
      else {
        this.#page = result.value;
        this.#index = 0;
      }
    }
  }
}

/**
 * `it.next` that keeps one result read ahead: as soon as a page arrives, the request for the following
 * one starts, so the network works while the consumer handles the page.
 */
function readAhead<T>(it: AsyncIterator<T>): () => Promise<IteratorResult<T>> {
  let ahead = it.next();
  ahead.catch(() => undefined);
  return () => {
    const current = ahead;
    ahead = current.then((r) => (r.done ? r : it.next()));
    ahead.catch(() => undefined); // the error reaches the caller through `current` / the next call
    return current;
  };
}

/**
 * What went wrong, in one word: SDK errors carry a name (`ThrottlingException`…), network errors a Node
 * code (`ECONNREFUSED`…), which the SDK sometimes only keeps in the message of an "error wrapper".
 */
function reasonOf(cause: unknown): string {
  const { code, name, message } = (cause ?? {}) as { code?: unknown; name?: unknown; message?: unknown };
  if (typeof code === 'string') return code;
  const network = /\b(ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENOTFOUND|EHOSTUNREACH|EAI_AGAIN)\b/.exec(String(message));
  if (network?.[1]) return network[1];
  return typeof name === 'string' && name !== '' ? name : 'Error';
}

/**
 * Orders strings as DynamoDB orders string sort keys: by UTF-8 bytes, which is code point order. Plain
 * `<` compares UTF-16 units and puts characters above U+FFFF (surrogate pairs) before U+E000–U+FFFF.
 */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) {
      const xs = x >= 0xd800 && x <= 0xdfff;
      const ys = y >= 0xd800 && y <= 0xdfff;
      if (xs !== ys) return xs ? 1 : -1;
      return x - y;
    }
  }
  return a.length - b.length;
}

/**
 * A ledger item as a report record. The user id falls back to the sort key (`USER#<userId>`) and the
 * period to the partition read; a missing or non-numeric count reads as 0, so one damaged item cannot
 * break a report, while the user it names is still counted. `admitted` is true unless the item holds
 * `BOOL false`: items written before the flag existed were all admitted, and a flag of another type reads
 * as missing, like any other attribute of the wrong type here. `service` (the service Identity Plus was
 * asked on behalf of) is absent on items recorded without one.
 */
export function userRecordOf(item: Item, periodId: string): UserRecord {
  const text = (name: string): string | undefined => item[name]?.S;
  const number = (name: string): number | undefined => {
    const raw = item[name]?.N;
    const n = raw === undefined ? NaN : Number(raw);
    return Number.isFinite(n) ? n : undefined;
  };
  const sk = text('sk') ?? '';
  return {
    userId: text('userId') ?? (sk.startsWith('USER#') ? sk.slice(5) : sk),
    period: text('period') ?? periodId,
    name: text('name'),
    email: text('email'),
    firstSeenAt: text('firstSeenAt') ?? '',
    lastSeenAt: text('lastSeenAt') ?? '',
    authCount: number('authCount') ?? 0,
    devices: item.devices?.SS ?? [],
    expiresAt: number('expiresAt'),
    admitted: item.admitted?.BOOL ?? true,
    // An empty or non-string `service` reads as none, like the writer's "no service".
    service: text('service') || undefined,
  };
}
