/**
 * The billing ledger in DynamoDB: one item per (billing period, user). The period partition is split into
 * `shards` partitions by a hash of the user id, so no partition runs hot and the report reads them as N
 * parallel Queries (never a Scan). One UpdateItem per confirmed authentication: idempotent in what it
 * keeps (`if_not_exists(firstSeenAt)`, set-union of devices) and race-free without transactions.
 */
import { ConditionalCheckFailedException, type DynamoDBClient, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { createHash } from 'node:crypto';
import { SETTINGS } from '../config/settings';
import type { AuthenticationRecord, RecordedAuthentication, RecordsPort } from '../domain/authenticate';
import { addMonths } from '../domain/billing-period';
import { RecordWriteError } from '../domain/errors';
import type { UsedStatesPort } from '../domain/state-token';

export interface RecordsTableOptions {
  readonly client: DynamoDBClient;
  readonly tableName: string;
  /** Shards per period (default 16). Changing it later hides older items from the report: pick once. */
  readonly shards?: number;
  /** Months after the period's end before DynamoDB TTL may delete an item (default 25). */
  readonly retentionMonths?: number;
}

/** The shard of a user id: the first 32 bits of its SHA-256, modulo `shards`. */
export function shardOf(userId: string, shards: number): number {
  return createHash('sha256').update(userId).digest().readUInt32BE(0) % shards;
}

/** Partition key of one shard of a period. */
export function periodPartitionKey(periodId: string, shard: number): string {
  return `PERIOD#${periodId}#${shard}`;
}

/** The item key of a used state token (its own partition: no period reader ever queries it). */
export function usedStateKey(id: string): { pk: string; sk: string } {
  return { pk: `STATE#${id}`, sk: 'USED' };
}

/** The item key of a user in a period. */
export function recordKey(periodId: string, userId: string, shards: number): { pk: string; sk: string } {
  return { pk: periodPartitionKey(periodId, shardOf(userId, shards)), sk: `USER#${userId}` };
}

/** A write refused by its condition. By name too: the class is not the same object when two copies of the SDK are loaded. */
export function isConditionalCheckFailed(cause: unknown): boolean {
  return (
    cause instanceof ConditionalCheckFailedException || (cause as Error)?.name === 'ConditionalCheckFailedException'
  );
}

export class RecordsTable implements RecordsPort, UsedStatesPort {
  readonly #client: DynamoDBClient;
  readonly #tableName: string;
  readonly #shards: number;
  readonly #retentionMonths: number;

  constructor(options: RecordsTableOptions) {
    this.#client = options.client;
    this.#tableName = options.tableName;
    this.#shards = options.shards ?? SETTINGS.shards.default;
    this.#retentionMonths = options.retentionMonths ?? SETTINGS.retentionMonths.default;
    if (!Number.isInteger(this.#shards) || this.#shards < 1 || this.#shards > 1000) {
      throw new RangeError(`shards must be a whole number from 1 to 1000, got ${this.#shards}`);
    }
  }

  /**
   * Records one authentication and says whether this write created the user's item for the period (read
   * from the write's own old values: no extra read, and exactly one of concurrent first writes sees no
   * previous `authCount`). Throws RecordWriteError (the request must then fail with 503).
   */
  async recordAuthentication(record: AuthenticationRecord): Promise<RecordedAuthentication> {
    const key = recordKey(record.period.id, record.userId, this.#shards);
    const at = record.at.toISOString();
    const expiresAt = Math.floor(addMonths(record.period.end, this.#retentionMonths).getTime() / 1000);

    const sets = [
      '#userId = :userId',
      '#period = :period',
      '#lastSeenAt = :at',
      '#firstSeenAt = if_not_exists(#firstSeenAt, :at)',
      '#roles = :roles',
      '#expiresAt = :expiresAt',
      // Admitted once in the period stays admitted; a confirmed identity the role policy turned away is
      // recorded as not admitted until (if ever) it is let in.
      record.admitted ? '#admitted = :true' : '#admitted = if_not_exists(#admitted, :false)',
    ];
    const names: Record<string, string> = {
      '#userId': 'userId',
      '#period': 'period',
      '#lastSeenAt': 'lastSeenAt',
      '#firstSeenAt': 'firstSeenAt',
      '#roles': 'roles',
      '#expiresAt': 'expiresAt',
      '#authCount': 'authCount',
      '#devices': 'devices',
      '#admitted': 'admitted',
    };
    const values: Record<string, import('@aws-sdk/client-dynamodb').AttributeValue> = {
      ':userId': { S: record.userId },
      ':period': { S: record.period.id },
      ':at': { S: at },
      ':roles': { L: record.roles.map((r) => ({ S: r })) },
      ':expiresAt': { N: String(expiresAt) },
      ':one': { N: '1' },
      ':device': { SS: [record.serial] },
      ...(record.admitted ? { ':true': { BOOL: true } } : { ':false': { BOOL: false } }),
    };
    // Name and email only overwrite when Identity Plus gave them: a later answer without them keeps what we had.
    if (record.name) {
      sets.push('#name = :name');
      names['#name'] = 'name';
      values[':name'] = { S: record.name };
    }
    if (record.email) {
      sets.push('#email = :email');
      names['#email'] = 'email';
      values[':email'] = { S: record.email };
    }
    // The service Identity Plus was asked on behalf of (delegated inquiry), for the report's `service` filter;
    // nothing when the API certificate asks for its own service.
    if (record.service) {
      sets.push('#service = :service');
      names['#service'] = 'service';
      values[':service'] = { S: record.service };
    }

    try {
      const written = await this.#client.send(
        new UpdateItemCommand({
          TableName: this.#tableName,
          Key: { pk: { S: key.pk }, sk: { S: key.sk } },
          UpdateExpression: `SET ${sets.join(', ')} ADD #authCount :one, #devices :device`,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          // The old values of the attributes written: none (no authCount) when the item did not exist.
          ReturnValues: 'UPDATED_OLD',
        }),
      );
      return { created: written.Attributes?.authCount === undefined };
    } catch (cause) {
      const name = cause instanceof Error ? cause.name : 'Error';
      throw new RecordWriteError(`could not record the authentication of ${record.userId} (${name})`, { cause });
    }
  }

  /**
   * Marks a state token used: one conditional write that creates its item only if it does not exist, so of
   * two uses (in any two containers) exactly one succeeds. The item expires with the token (`expiresAt`, the
   * table's TTL attribute, rounded up to the second). An UpdateItem, not a PutItem: the edge function's role
   * already has exactly that action on the table.
   */
  async claimState(id: string, expiresAt: number): Promise<boolean> {
    const key = usedStateKey(id);
    try {
      await this.#client.send(
        new UpdateItemCommand({
          TableName: this.#tableName,
          Key: { pk: { S: key.pk }, sk: { S: key.sk } },
          UpdateExpression: 'SET #expiresAt = :expiresAt',
          ConditionExpression: 'attribute_not_exists(#pk)',
          ExpressionAttributeNames: { '#expiresAt': 'expiresAt', '#pk': 'pk' },
          ExpressionAttributeValues: { ':expiresAt': { N: String(Math.ceil(expiresAt / 1000)) } },
        }),
      );
      return true;
    } catch (cause) {
      if (isConditionalCheckFailed(cause)) return false;
      const name = cause instanceof Error ? cause.name : 'Error';
      throw new RecordWriteError(`could not check whether the sign-in link was used (${name})`, { cause });
    }
  }
}
