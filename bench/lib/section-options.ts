// What a bench section that loads proxies with fortio and wrk is given by run.ts: the shared fields of its options.
import type { ProcessGroup } from './process-group.ts';

export interface LoadSectionOptions {
  readonly group: ProcessGroup;
  readonly fortioPath: string;
  /** The run's plain HTTP/1.1 upstream on loopback. */
  readonly upstreamPort: number;
  readonly workDir: string;
  readonly runs: number;
  readonly seconds: { readonly warm: number; readonly tput: number; readonly lat: number };
  readonly qps: number;
  readonly connections: number;
  readonly log: (line: string) => void;
}
