import { extractIndexRows } from './lambdas/fhir/search/extract.js';
import { richPatient, labObservation } from './test/fhir/search/fixtures.js';
for (const [name, r] of [['Patient', richPatient()], ['Observation', labObservation()]] as const) {
  for (let i = 0; i < 5000; i++) extractIndexRows(r);
  const N = 100000;
  const t0 = performance.now();
  for (let i = 0; i < N; i++) extractIndexRows(r);
  console.log(name, (((performance.now() - t0) / N) * 1000).toFixed(1), 'µs');
}
