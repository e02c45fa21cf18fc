/**
 * The one way plusgate makes an S3 bucket: versioned, S3-managed encryption, no public access, bucket
 * owner enforced, TLS 1.2+ only, retained when the stack is deleted. Server access logging is a per-bucket
 * decision, so the caller states why it is off (the cdk-nag AwsSolutions-S1 acknowledgement).
 */
import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import { BlockPublicAccess, Bucket, BucketEncryption, ObjectOwnership } from 'aws-cdk-lib/aws-s3';
import type { Construct } from 'constructs';

/** A private, versioned, encrypted, TLS-only bucket that outlives the stack. */
export function privateBucket(scope: Construct, id: string, props: { readonly noAccessLogsReason: string }): Bucket {
  const bucket = new Bucket(scope, id, {
    versioned: true,
    encryption: BucketEncryption.S3_MANAGED,
    blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
    objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
    enforceSSL: true,
    minimumTLSVersion: 1.2,
    removalPolicy: RemovalPolicy.RETAIN,
  });
  Validations.of(bucket).acknowledge({ id: 'AwsSolutions-S1', reason: props.noAccessLogsReason });
  return bucket;
}
