// Unit-project global setup: installs the bench's tools (haproxy, wrk, h2load, fortio, ghz; install-tools.ts) when missing,
// so that the bench's own tests (HAProxy accepting its reference configs, one tiny end-to-end ingress run) run on a new
// machine instead of skipping. Idempotent, and instant once installed.
import { installTools } from './install-tools.ts';

export default function setup(): void {
  installTools();
}
