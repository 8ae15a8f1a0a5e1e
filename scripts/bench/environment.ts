/** What every benchmark reports about where it ran, and its PostgreSQL-server probe. */
import { cpus, totalmem } from 'node:os';
import { createPgExecutor } from '../../lambdas/adapters/sql/pg.js';

export interface MachineInfo {
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  node: string;
}

export function machineInfo(): MachineInfo {
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Number((totalmem() / 2 ** 30).toFixed(1)),
    node: process.version,
  };
}

/** Resolves whether the server answers within `ms`. */
export async function reachable(url: string, ms: number): Promise<boolean> {
  const probe = createPgExecutor(url, 1);
  try {
    const timeout = new Promise<false>((resolve) => setTimeout(() => resolve(false), ms).unref());
    return await Promise.race([probe.query('SELECT 1 AS ok').then(() => true), timeout]);
  } catch {
    return false;
  } finally {
    void probe.close().catch(() => undefined);
  }
}
