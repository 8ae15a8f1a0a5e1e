import { type App, Aspects, Tags } from 'aws-cdk-lib';
import { ResidencyGuard } from './constructs/residency.js';
import { PFI_REGION, type PfiSettings } from './settings.js';
import { ApiStack } from './stacks/api-stack.js';
import { ComplianceStack } from './stacks/compliance-stack.js';
import { DataStack } from './stacks/data-stack.js';
import { KeysStack } from './stacks/keys-stack.js';
import { MessagingStack } from './stacks/messaging-stack.js';
import { MllpStack } from './stacks/mllp-stack.js';
import { NetworkStack } from './stacks/network-stack.js';
import { ObservabilityStack } from './stacks/observability-stack.js';

export interface Platform {
  keys: KeysStack;
  network: NetworkStack;
  data: DataStack;
  messaging: MessagingStack;
  api: ApiStack;
  mllp: MllpStack;
  observability: ObservabilityStack;
  compliance: ComplianceStack;
}

/**
 * The whole platform for one stage, as the seed's diagram reads: keys → network → data → messaging (queues and
 * workers) → api → mllp → observability → compliance. Stack names are `pfi-<stage>-<part>`. The residency guard
 * and the project tags apply to every stack of the app.
 *
 * @example
 * const app = new App();
 * buildPlatform(app, readSettings(app.node));
 */
export function buildPlatform(app: App, settings: PfiSettings): Platform {
  const env = { account: settings.account, region: settings.region };
  const name = (part: string) => `pfi-${settings.stage}-${part}`;
  const common = { env, settings };
  const describe = (what: string) => `PFI ${settings.stage}: ${what}`;
  const keys = new KeysStack(app, name('keys'), { ...common, description: describe('KMS keys') });
  const k = keys.keys;
  const network = new NetworkStack(app, name('network'), {
    ...common,
    logsKey: k.logs,
    description: describe('VPC, security groups, endpoints, flow logs'),
  });
  const n = network.network;
  const data = new DataStack(app, name('data'), {
    ...common,
    keys: k,
    network: n,
    description: describe('Aurora, backups, documents bucket'),
  });
  const messaging = new MessagingStack(app, name('messaging'), {
    ...common,
    keys: k,
    network: n,
    data,
    description: describe('SQS FIFO queues and Lambda workers'),
  });
  const api = new ApiStack(app, name('api'), {
    ...common,
    keys: k,
    network: n,
    data,
    messaging,
    description: describe('FHIR API, Cognito, WAF'),
  });
  const mllp = new MllpStack(app, name('mllp'), {
    ...common,
    keys: k,
    network: n,
    data,
    messaging,
    description: describe('MLLP bridge on Fargate behind a TLS NLB'),
  });
  const observability = new ObservabilityStack(app, name('observability'), {
    ...common,
    keys: k,
    data,
    messaging,
    api,
    mllp,
    description: describe('dashboard, alarms, alarm topic'),
  });
  const compliance = new ComplianceStack(app, name('compliance'), {
    ...common,
    keys: k,
    data,
    alarmTopic: observability.topic,
    description: describe('CloudTrail, CIS alarms, audit export'),
  });
  Aspects.of(app).add(new ResidencyGuard(PFI_REGION));
  Tags.of(app).add('project', 'pfi');
  Tags.of(app).add('pfi:stage', settings.stage);
  return { keys, network, data, messaging, api, mllp, observability, compliance };
}
