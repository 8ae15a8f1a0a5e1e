import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type { Construct } from 'constructs';
import type { PlatformKeys } from '../constructs/platform-keys.js';
import { PlatformMonitoring } from '../constructs/platform-monitoring.js';
import type { ApiStack } from './api-stack.js';
import type { DataStack } from './data-stack.js';
import type { MessagingStack } from './messaging-stack.js';
import type { MllpStack } from './mllp-stack.js';
import { PfiStack, type PfiStackProps } from './pfi-stack.js';

export interface ObservabilityStackProps extends Omit<PfiStackProps, 'classification'> {
  keys: PlatformKeys;
  data: DataStack;
  messaging: MessagingStack;
  api: ApiStack;
  mllp: MllpStack;
}

/** The alarm topic (KMS), the dashboard and the alarms with the seed's thresholds. */
export class ObservabilityStack extends PfiStack {
  readonly topic: sns.Topic;
  readonly monitoring: PlatformMonitoring;

  constructor(scope: Construct, id: string, props: ObservabilityStackProps) {
    super(scope, id, { ...props, classification: 'internal' });
    const s = props.settings;
    this.topic = new sns.Topic(this, 'Alarms', {
      topicName: `pfi-${s.stage}-alarms`,
      displayName: `PFI ${s.stage} alarms`,
      masterKey: props.keys.logs,
      enforceSSL: true,
    });
    if (s.alarmEmail !== undefined) this.topic.addSubscription(new subscriptions.EmailSubscription(s.alarmEmail));
    const m = props.messaging;
    this.monitoring = new PlatformMonitoring(this, 'Monitoring', {
      stage: s.stage,
      topic: this.topic,
      apiName: props.api.rest.api.restApiName,
      apiStage: s.stage,
      hl7Queue: m.hl7Inbound.queue,
      queues: Object.fromEntries(Object.entries(m.queues).map(([n, q]) => [n, q.queue])),
      deadLetterQueues: Object.fromEntries(Object.entries(m.queues).map(([n, q]) => [n, q.deadLetterQueue])),
      functions: { 'fhir-api': props.api.fhir.function, ...m.functions },
      cluster: props.data.database.cluster,
      mllpService: props.mllp.mllp.service,
      mllpTargets: props.mllp.mllp.targetGroup,
      mllpMinTasks: s.mllpMinTasks,
    });
  }
}
