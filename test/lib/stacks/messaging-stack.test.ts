import { Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { propsOf, testPlatform } from '../cdk-test-app.js';

describe('MessagingStack (item 5: FIFO queues and workers; item 4: Lambda shape)', () => {
  let t: Template;
  beforeAll(() => {
    t = testPlatform().templates.messaging;
  });

  it('has hl7-inbound, cda and mssante FIFO queues, each with a FIFO DLQ kept 14 days, all under the data key', () => {
    const queues = propsOf(t, 'AWS::SQS::Queue');
    expect(queues.map((q) => q.QueueName).sort()).toEqual([
      'pfi-prod-cda-dlq.fifo',
      'pfi-prod-cda.fifo',
      'pfi-prod-hl7-inbound-dlq.fifo',
      'pfi-prod-hl7-inbound.fifo',
      'pfi-prod-mssante-dlq.fifo',
      'pfi-prod-mssante.fifo',
    ]);
    for (const q of queues) {
      expect(q.FifoQueue).toBe(true);
      expect(q.KmsMasterKeyId).toBeDefined();
      if (q.QueueName.includes('-dlq')) expect(q.MessageRetentionPeriod).toBe(14 * 86_400);
      else expect(q.RedrivePolicy.maxReceiveCount).toBe(5);
    }
    // TLS-only queue policies.
    for (const p of propsOf(t, 'AWS::SQS::QueuePolicy')) {
      expect(p.PolicyDocument.Statement[0]).toMatchObject({
        Effect: 'Deny',
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      });
    }
  });

  it('sets each visibility timeout to 6× its worker timeout', () => {
    const queues = Object.fromEntries(propsOf(t, 'AWS::SQS::Queue').map((q) => [q.QueueName, q]));
    const fns = propsOf(t, 'AWS::Lambda::Function');
    const timeoutOf = (handler: string) => fns.find((f) => f.Description.includes(handler))?.Timeout;
    expect(queues['pfi-prod-hl7-inbound.fifo']?.VisibilityTimeout).toBe(6 * timeoutOf('hl7-inbound'));
    expect(queues['pfi-prod-cda.fifo']?.VisibilityTimeout).toBe(6 * timeoutOf('cda FIFO'));
    expect(queues['pfi-prod-mssante.fifo']?.VisibilityTimeout).toBe(6 * 120);
  });

  it('feeds the workers with partial batch responses and bounded concurrency (reserved = maximum)', () => {
    const mappings = propsOf(t, 'AWS::Lambda::EventSourceMapping');
    expect(mappings).toHaveLength(3);
    for (const m of mappings) {
      expect(m).toMatchObject({ FunctionResponseTypes: ['ReportBatchItemFailures'], BatchSize: 10 });
      expect(m.MaximumBatchingWindowInSeconds).toBeUndefined();
      expect(m.ScalingConfig.MaximumConcurrency).toBeGreaterThanOrEqual(2);
    }
    const fns = Object.fromEntries(
      Object.entries(t.findResources('AWS::Lambda::Function')).map(([id, r]) => [id, r['Properties']]),
    );
    for (const m of mappings) {
      const fn = fns[m.FunctionName.Ref];
      expect(fn.ReservedConcurrentExecutions).toBe(m.ScalingConfig.MaximumConcurrency);
    }
  });

  it('runs every function on Node.js 24, arm64, in the VPC, with X-Ray and its own encrypted log group', () => {
    const fns = propsOf(t, 'AWS::Lambda::Function');
    expect(fns).toHaveLength(4);
    const roles = new Set<string>();
    for (const f of fns) {
      expect(f).toMatchObject({ Runtime: 'nodejs24.x', Architectures: ['arm64'], TracingConfig: { Mode: 'Active' } });
      expect(f.VpcConfig.SubnetIds).toHaveLength(3);
      expect(f.LoggingConfig.LogGroup).toBeDefined();
      roles.add(JSON.stringify(f.Role));
    }
    expect(roles.size).toBe(4);
    const groups = propsOf(t, 'AWS::Logs::LogGroup');
    expect(groups).toHaveLength(4);
    expect(groups.every((g) => g.KmsKeyId !== undefined && g.RetentionInDays === 90)).toBe(true);
  });

  it('configures the workers for the Data API, the documents bucket and the queues', () => {
    t.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('hl7-inbound'),
      Environment: {
        Variables: Match.objectLike({
          PFI_DB_CLUSTER_ARN: Match.anyValue(),
          PFI_DB_SECRET_ARN: Match.anyValue(),
          PFI_DB_NAME: 'pfi',
          PFI_DOCUMENTS_BUCKET: Match.anyValue(),
          PFI_DOCUMENTS_KMS_KEY_ID: Match.anyValue(),
          PFI_HL7_RAW_ARCHIVE: 'documents',
          PFI_CDA_QUEUE_URL: Match.anyValue(),
          PFI_MSSANTE_QUEUE_URL: Match.anyValue(),
        }),
      },
    });
    t.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('MSSanté'),
      Timeout: 120,
      Environment: {
        Variables: Match.objectLike({
          PFI_SMTP_SECRET_ARN: Match.anyValue(),
          PFI_MSSANTE_FROM: Match.anyValue(),
          PFI_MSSANTE_NIL: Match.anyValue(),
          PFI_ANNUAIRE_URL: 'https://gateway.api.esante.gouv.fr/fhir/v2',
          PFI_ANNUAIRE_API_KEY_SECRET_ARN: Match.anyValue(),
        }),
      },
    });
  });

  it('lets the MSSanté worker read its two secrets, and only it', () => {
    const policies = propsOf(t, 'AWS::IAM::Policy');
    const withSecrets = policies.filter((p) =>
      JSON.stringify(p.PolicyDocument).includes('secret:pfi/prod/mssante-bal'),
    );
    expect(withSecrets).toHaveLength(1);
    expect(JSON.stringify(withSecrets[0])).toContain('secret:pfi/prod/annuaire-api-key');
  });

  it('grants the workers explicit actions only (no s3:* or kms:* wildcards)', () => {
    for (const p of propsOf(t, 'AWS::IAM::Policy')) {
      for (const s of p.PolicyDocument.Statement) {
        const actions: string[] = [s.Action].flat();
        expect(
          actions.filter((a) => a.endsWith('*')),
          JSON.stringify(s),
        ).toEqual([]);
      }
    }
  });

  it('runs the outbox relay every minute', () => {
    t.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(1 minute)', State: 'ENABLED' });
  });
});

describe('MessagingStack: the audit trail (issue 5) in the outbox relay', () => {
  it('gives the relay the HMAC seal key: its ARN and GenerateMac/VerifyMac on it only', () => {
    const t = testPlatform().templates.messaging;
    t.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('audit trail'),
      Environment: { Variables: Match.objectLike({ PFI_AUDIT_SEAL_KMS_KEY_ID: Match.anyValue() }) },
    });
    const macs = propsOf(t, 'AWS::IAM::Policy')
      .flatMap((p) => p.PolicyDocument.Statement)
      .filter((s: any) => [s.Action].flat().includes('kms:GenerateMac'));
    expect(macs).toHaveLength(1);
    expect(macs[0].Action).toEqual(['kms:GenerateMac', 'kms:VerifyMac']);
  });
});

describe('the organisation defaults of generated documents', () => {
  it('reach every function that generates or sends documents as PFI_ORGANISATION_JSON (validated settings)', () => {
    const { templates } = testPlatform();
    const functions = [
      ...propsOf(templates.messaging, 'AWS::Lambda::Function'),
      ...propsOf(templates.api, 'AWS::Lambda::Function'),
    ].filter((f) => /CDA|MSSanté|Outbox|FHIR/i.test(f.Description ?? ''));
    expect(functions.length).toBeGreaterThanOrEqual(4);
    for (const f of functions) {
      const org = JSON.parse(f.Environment.Variables.PFI_ORGANISATION_JSON);
      expect(org).toMatchObject({ idNatStruct: expect.stringMatching(/^[0-4]/), documentIdRoot: expect.any(String) });
    }
  });
});

describe('the audit export (issue 5: sealed batches to Object Lock)', () => {
  it('gives the outbox relay the export bucket and its key, and PutObject on audit-chain/ only', () => {
    const { templates } = testPlatform();
    const relay = propsOf(templates.messaging, 'AWS::Lambda::Function').find((f) =>
      /Outbox/i.test(f.Description ?? ''),
    );
    expect(relay?.Environment.Variables.PFI_AUDIT_EXPORT_BUCKET).toBe('pfi-prod-audit-export-123456789012');
    expect(relay?.Environment.Variables.PFI_AUDIT_EXPORT_KMS_KEY_ID).toBeDefined();
    const statements = propsOf(templates.messaging, 'AWS::IAM::Policy').flatMap((p) => p.PolicyDocument.Statement);
    const put = statements.find((st: any) => JSON.stringify(st.Resource ?? '').includes('audit-export'));
    expect(put.Action).toBe('s3:PutObject');
    expect(JSON.stringify(put.Resource)).toContain('/audit-chain/*');
    const bucket = propsOf(templates.compliance, 'AWS::S3::Bucket').find(
      (b) => b.BucketName === 'pfi-prod-audit-export-123456789012',
    );
    expect(bucket?.ObjectLockEnabled).toBe(true);
    expect(bucket?.ObjectLockConfiguration.Rule.DefaultRetention.Mode).toBe('COMPLIANCE');
  });
});
