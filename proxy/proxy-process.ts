// Runs one proxy process: listeners, admin server, signal handling. (Being built; see issue 2.)
import type { ProxyConfig } from '../api/config/proxy-config.ts';

export async function runProxyProcess(_config: ProxyConfig): Promise<void> {
  throw new Error('the proxy data path is not built yet');
}
