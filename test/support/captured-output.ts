import { vi } from 'vitest';

/**
 * Captures what the process writes to stdout and stderr (where Powertools Logger writes) until `vi.restoreAllMocks()`.
 * Returns the array the chunks go to.
 */
export function captureProcessOutput(): string[] {
  const captured: string[] = [];
  const write = (chunk: unknown) => {
    captured.push(String(chunk));
    return true;
  };
  vi.spyOn(process.stdout, 'write').mockImplementation(write);
  vi.spyOn(process.stderr, 'write').mockImplementation(write);
  return captured;
}
