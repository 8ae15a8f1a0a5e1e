import { Worker } from 'node:worker_threads';

/**
 * A worker thread running a TypeScript module of this project: the thread registers tsx, then imports `moduleUrl`
 * (the scripts run from source, under `node --import tsx` or vitest, and a worker thread does not inherit their loader).
 */
export function tsWorker(moduleUrl: string, workerData: unknown): Worker {
  const url = JSON.stringify(moduleUrl);
  return new Worker(`import('tsx/esm/api').then(({ register }) => { register(); return import(${url}); })`, {
    eval: true,
    workerData,
  });
}
