// When to restart a server that stopped on its own: 1 s, 2 s, 4 s … up to 30 s between tries,
// and no more tries after 5 crashes within 3 minutes (something is wrong that a restart won't fix).
// No `vscode` import.

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  maxCrashes: number;
  windowMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 1000, maxMs: 30000, maxCrashes: 5, windowMs: 180000 };

export class Backoff {
  private crashes: number[] = [];

  constructor(private readonly options: BackoffOptions = DEFAULT_BACKOFF) {}

  /** Record a crash at `now`; the delay before the next start, or undefined to give up. */
  crashed(now: number): number | undefined {
    this.crashes = this.crashes.filter((t) => now - t < this.options.windowMs);
    this.crashes.push(now);
    if (this.crashes.length >= this.options.maxCrashes) return undefined;
    return Math.min(this.options.maxMs, this.options.initialMs * 2 ** (this.crashes.length - 1));
  }

  /** A start the user asked for (restart command, settings) begins again from the first delay. */
  reset(): void {
    this.crashes = [];
  }
}

/** Why the process ended, in words, from its exit code or signal and the end of its stderr. */
export function exitReason(code: number | null, signal: string | null, stderrTail: string): string {
  const how = signal ? `killed by ${signal}` : code === null ? "exited" : `exited with status ${code}`;
  const lines = stderrTail.trim().split(/\r?\n/).filter((l) => l.trim());
  const last = lines.length > 0 ? lines[lines.length - 1].trim() : "";
  return last ? `${how}: ${last}` : how;
}
