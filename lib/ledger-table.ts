/**
 * The ledger: one item per (billing period, user), written with one UpdateItem per confirmed
 * authentication. It is what a bill is checked against, so it is protected against loss: point-in-time
 * recovery, deletion protection and RETAIN on stack deletion.
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, Billing, TableEncryptionV2, TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';

/** Name of the TTL attribute (epoch seconds: period end + retention). */
export const RECORDS_TTL_ATTRIBUTE = 'expiresAt';

/** The ledger table (`pk` = `PERIOD#<period>#<shard>`, `sk` = `USER#<userId>`). */
export class LedgerTable extends Construct {
  public readonly table: TableV2;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.table = new TableV2(this, 'Table', {
      partitionKey: { name: 'pk', type: AttributeType.STRING },
      sortKey: { name: 'sk', type: AttributeType.STRING },
      // On-demand: sign-ins are bursty (Monday mornings) and idle at night; nothing to tune.
      billing: Billing.onDemand(),
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: RECORDS_TTL_ATTRIBUTE,
      deletionProtection: true,
      removalPolicy: RemovalPolicy.RETAIN,
      // AWS-owned keys would be invisible in the account; the AWS-managed key shows in KMS and CloudTrail
      // with no monthly key fee, and needs no grant in the functions' roles.
      encryption: TableEncryptionV2.awsManagedKey(),
    });
  }
}
