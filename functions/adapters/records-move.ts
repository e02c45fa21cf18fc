/**
 * Moving a person's ledger item of a period to another user key, when a binding changes who they are
 * (`org:…` → `local:<id>` on `PUT /bindings`, back on `DELETE /bindings/{id}`): without it the person would
 * be one item under each key, two billed users in the period of the change. Only UpdateItem, the one action
 * the verify function's role has on the table, in three steps that never lose a user from the report:
 * 1. mark the old item `movingTo` (readers ignore that mark) and read it back (`ALL_NEW`);
 * 2. add its counts, devices and dates to the new key's item: `ADD` when that item is live, or `SET` them
 *    when it is itself a moved-away item (its counts are already inside the old one: moving back must not
 *    count them twice), removing its `mergedInto`;
 * 3. mark the old item `mergedInto` the new key (readers skip it) and drop `movingTo`.
 * A failure after step 1 or 2 leaves both items counted (the report errs on the billed side); nothing is
 * deleted, so every authentication ever recorded stays in the table.
 */
import { type AttributeValue, type DynamoDBClient, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { RecordWriteError } from '../domain/errors';
import { isConditionalCheckFailed, recordKey } from './records-table';

type Item = Record<string, AttributeValue>;

/** What a move did: nothing to move (no live item under the old key this period), or moved to `to`. */
export type MoveResult = { readonly moved: false } | { readonly moved: true; readonly to: string };

/** The old item, as the target's key is worked out from it (its devices, for an unbinding). */
export interface MovedItem {
  readonly userId: string;
  readonly devices: readonly string[];
}

export class RecordsMover {
  constructor(
    private readonly options: { readonly client: DynamoDBClient; readonly tableName: string; readonly shards: number },
  ) {}

  /**
   * Moves `from`'s item of `periodId` to the key `target` names (given, or worked out from the old item;
   * undefined: keep it where it is). Throws RecordWriteError when DynamoDB fails.
   */
  async move(
    periodId: string,
    from: string,
    target: string | ((old: MovedItem) => Promise<string | undefined>),
  ): Promise<MoveResult> {
    if (from === target) return { moved: false };
    const old = await this.#mark(periodId, from);
    if (!old) return { moved: false };
    const to =
      typeof target === 'string'
        ? target
        : await target({ userId: from, devices: old.devices?.SS ?? [] }).catch(() => undefined);
    if (to === undefined || to === from) {
      await this.#update(periodId, from, { update: 'REMOVE #movingTo', names: { '#movingTo': 'movingTo' } });
      return { moved: false };
    }
    await this.#addTo(periodId, to, old);
    await this.#update(periodId, from, {
      update: 'SET #mergedInto = :to REMOVE #movingTo',
      names: { '#mergedInto': 'mergedInto', '#movingTo': 'movingTo' },
      values: { ':to': { S: to } },
    });
    return { moved: true, to };
  }

  /** Step 1: the live old item, marked; undefined when there is none. */
  async #mark(periodId: string, from: string): Promise<Item | undefined> {
    const written = await this.#update(periodId, from, {
      update: 'SET #movingTo = :marked',
      names: { '#movingTo': 'movingTo', '#pk': 'pk', '#mergedInto': 'mergedInto' },
      values: { ':marked': { BOOL: true } },
      condition: 'attribute_exists(#pk) AND attribute_not_exists(#mergedInto)',
      returnAll: true,
    });
    return written;
  }

  /** Step 2: the old item's counts into the target, whichever kind of item the target is. */
  async #addTo(periodId: string, to: string, old: Item): Promise<void> {
    const values: Record<string, AttributeValue> = {
      ':userId': { S: to },
      ':period': { S: periodId },
      ':first': old.firstSeenAt ?? { S: '' },
      ':last': old.lastSeenAt ?? { S: '' },
      ':count': { N: old.authCount?.N ?? '0' },
      ':roles': old.roles ?? { L: [] },
      ':expiresAt': old.expiresAt ?? { N: '0' },
      ':admitted': { BOOL: old.admitted?.BOOL ?? true },
    };
    const names: Record<string, string> = {
      '#userId': 'userId',
      '#period': 'period',
      '#firstSeenAt': 'firstSeenAt',
      '#lastSeenAt': 'lastSeenAt',
      '#authCount': 'authCount',
      '#roles': 'roles',
      '#expiresAt': 'expiresAt',
      '#admitted': 'admitted',
      '#mergedInto': 'mergedInto',
    };
    const devices = old.devices?.SS?.length ? old.devices : undefined;
    if (devices) {
      values[':devices'] = devices;
      names['#devices'] = 'devices';
    }
    const optional = ['name', 'email', 'service'].filter((name) => old[name]?.S);
    for (const name of optional) {
      names[`#${name}`] = name;
      values[`:${name}`] = old[name] as AttributeValue;
    }
    const common = ['#userId = :userId', '#period = :period', '#expiresAt = :expiresAt'];
    // A live target keeps what it has and gains the old item's counts.
    const live = [
      ...common,
      '#firstSeenAt = if_not_exists(#firstSeenAt, :first)',
      '#lastSeenAt = if_not_exists(#lastSeenAt, :last)',
      '#roles = if_not_exists(#roles, :roles)',
      old.admitted?.BOOL === false ? '#admitted = if_not_exists(#admitted, :admitted)' : '#admitted = :admitted',
      ...optional.map((name) => `#${name} = if_not_exists(#${name}, :${name})`),
    ];
    // A moved-away target's counts are already in the old item: take the old item's values as they are.
    const revived = [
      ...common,
      '#firstSeenAt = :first',
      '#lastSeenAt = :last',
      '#roles = :roles',
      '#admitted = :admitted',
      '#authCount = :count',
      ...(devices ? ['#devices = :devices'] : []),
      ...optional.map((name) => `#${name} = :${name}`),
    ];
    const add = `ADD #authCount :count${devices ? ', #devices :devices' : ''}`;
    // Two tries: the target may become a moved-away item (or stop being one) between them.
    for (let attempt = 0; attempt < 2; attempt++) {
      for (const variant of ['revived', 'live'] as const) {
        const done = await this.#update(periodId, to, {
          update:
            variant === 'revived' ? `SET ${revived.join(', ')} REMOVE #mergedInto` : `SET ${live.join(', ')} ${add}`,
          names,
          values,
          condition: variant === 'revived' ? 'attribute_exists(#mergedInto)' : 'attribute_not_exists(#mergedInto)',
          returnAll: true,
        });
        if (done) return;
      }
    }
    throw new RecordWriteError(`could not move the ledger item of the period ${periodId} to ${to} (it kept changing)`);
  }

  /** One UpdateItem; a failed condition is `undefined`, any other failure a RecordWriteError. */
  async #update(
    periodId: string,
    userId: string,
    op: {
      update: string;
      names: Record<string, string>;
      values?: Record<string, AttributeValue>;
      condition?: string;
      returnAll?: boolean;
    },
  ): Promise<Item | undefined> {
    const key = recordKey(periodId, userId, this.options.shards);
    try {
      const written = await this.options.client.send(
        new UpdateItemCommand({
          TableName: this.options.tableName,
          Key: { pk: { S: key.pk }, sk: { S: key.sk } },
          UpdateExpression: op.update,
          ConditionExpression: op.condition,
          ExpressionAttributeNames: op.names,
          ExpressionAttributeValues: op.values,
          ReturnValues: op.returnAll ? 'ALL_NEW' : 'NONE',
        }),
      );
      return written.Attributes ?? {};
    } catch (cause) {
      if (isConditionalCheckFailed(cause)) return undefined;
      const name = cause instanceof Error ? cause.name : 'Error';
      throw new RecordWriteError(`could not move the ledger item of ${userId} in ${periodId} (${name})`, { cause });
    }
  }
}
