import { crash } from './crash.js';
import { fhirAbuse } from './fhir-abuse.js';
import { mllpAbuse } from './mllp-abuse.js';
import { poison } from './poison.js';
import type { Scenario } from './scenario.js';
import { smtpFaults } from './smtp.js';
import { soak } from './soak.js';
import { storeDown } from './store-down.js';

/** Every scenario of `npm run chaos`, in the order they run by default. */
export const SCENARIOS: readonly Scenario[] = [crash, storeDown, poison, fhirAbuse, mllpAbuse, smtpFaults, soak];
