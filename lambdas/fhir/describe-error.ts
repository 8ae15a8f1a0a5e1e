/**
 * Content-free descriptions of the errors a queue worker meets whatever its job (dead-letter reasons, logs): only
 * errors whose messages PFI writes without values are quoted (FHIR diagnostics naming elements, SQL errors with
 * values redacted); any other error is reduced to its name.
 */

import type { FailureDescription } from '../adapters/queue/queue-worker.js';
import { SqlError } from '../adapters/sql/executor.js';
import { FhirError } from './errors.js';

export function describeCommonError(err: unknown): FailureDescription {
  if (err instanceof FhirError) {
    const detail = err.issues.map((i) => i.diagnostics ?? i.code).join('; ');
    return { name: err.name, code: `fhir-${err.status}`, message: detail.slice(0, 1000) };
  }
  if (err instanceof SqlError)
    return { name: err.name, code: `sql-${err.code ?? 'error'}`, message: err.message.slice(0, 1000) };
  if (err instanceof Error) return { name: err.name, code: 'error', message: err.name };
  return { name: 'Error', code: 'error', message: 'unknown error' };
}
