import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as sqs from 'aws-cdk-lib/aws-sqs';

/**
 * Explicit, wildcard-free grants. CDK's `grantReadWrite`/`grantSendMessages` add action wildcards (`s3:Get*`,
 * `kms:ReEncrypt*`, `kms:GenerateDataKey*`) and, for keys in another stack, may write the role into the key policy;
 * these name exactly what the handlers call, and KMS use only through the service that needs it.
 */

/**
 * ARN of objects under a prefix of a bucket known by its (fixed) name: a literal, so grants in other stacks need no
 * cross-stack export and reviewers (and cdk-nag) read the bucket name.
 */
export function bucketObjectsArn(partition: string, bucketName: string, pattern: string): string {
  return `arn:${partition}:s3:::${bucketName}/${pattern}`;
}

/** Objects of the document store: read, write, delete (retention purge), list; the documents key through S3. */
export function grantDocumentStore(role: iam.IRole, bucketName: string, key: kms.IKey): void {
  const { region, partition } = Stack.of(key);
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      actions: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'],
      resources: [bucketObjectsArn(partition, bucketName, '*')],
    }),
  );
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [`arn:${partition}:s3:::${bucketName}`] }),
  );
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
      resources: [key.keyArn],
      conditions: { StringEquals: { 'kms:ViaService': `s3.${region}.amazonaws.com` } },
    }),
  );
}

/** `sqs:SendMessage` on the queues, and the queue key through SQS. */
export function grantSend(role: iam.IRole, queues: readonly sqs.IQueue[], key: kms.IKey): void {
  const region = Stack.of(key).region;
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({ actions: ['sqs:SendMessage'], resources: queues.map((q) => q.queueArn) }),
  );
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
      resources: [key.keyArn],
      conditions: { StringEquals: { 'kms:ViaService': `sqs.${region}.amazonaws.com` } },
    }),
  );
}
