import { QUERY_CANCELED, SqlError, type SqlRow, SqlTimeoutError } from './executor.js';

/** Normalizes a driver row to the port's contract (Date → ISO string, bigint → number when safe). */
export function normalizeRow(row: Record<string, unknown>): SqlRow {
  const out: SqlRow = {};
  for (const [k, v] of Object.entries(row)) {
    if (v === null || v === undefined) out[k] = null;
    else if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out[k] = v;
    else if (v instanceof Date) out[k] = v.toISOString();
    else if (typeof v === 'bigint') out[k] = Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
    else out[k] = JSON.stringify(v);
  }
  return out;
}

/** Wraps a driver error; keeps the SQLSTATE, never the statement's parameters. */
export function toSqlError(err: unknown): SqlError {
  if (err instanceof SqlError) return err;
  const e = err as { message?: string; code?: string };
  const code = typeof e?.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code) ? e.code : undefined;
  if (code === QUERY_CANCELED) return new SqlTimeoutError(e?.message ?? 'statement cancelled', code, { cause: err });
  return new SqlError(e?.message ?? String(err), code, { cause: err });
}
