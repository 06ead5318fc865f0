// A log line per key at most once per interval, saying how many were left out since: a flood of denials stays readable.
import { log, type LogLevel } from '../log.ts';

export type LogSink = (level: LogLevel, msg: string, fields: Record<string, unknown>) => void;

export class RateLimitedLog {
  readonly #intervalMs: number;
  readonly #now: () => number;
  readonly #sink: LogSink;
  /** Per key: when it last logged, and how many lines were suppressed since. Bounded by the keys the config names. */
  readonly #last = new Map<string, { at: number; suppressed: number }>();

  constructor(intervalMs = 10_000, now: () => number = Date.now, sink: LogSink = log) {
    this.#intervalMs = intervalMs;
    this.#now = now;
    this.#sink = sink;
  }

  /** Logs now, or counts the line as suppressed when `key` logged less than an interval ago. */
  write(key: string, level: LogLevel, msg: string, fields: Record<string, unknown>): void {
    const now = this.#now();
    const s = this.#last.get(key);
    if (s !== undefined && now - s.at < this.#intervalMs) {
      s.suppressed++;
      return;
    }
    const suppressed = s?.suppressed ?? 0;
    this.#last.set(key, { at: now, suppressed: 0 });
    this.#sink(level, msg, suppressed > 0 ? { ...fields, suppressedSinceLast: suppressed } : fields);
  }
}
