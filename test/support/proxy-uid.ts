// Runs a command as the sidecar proxy's UID, as the pod's proxy container does, but from this checkout.
// The checkout may sit in a directory only its owner can read (a clone under /root, or in `mktemp -d`): in a pod the image
// holds its own files; here the proxy process keeps CAP_DAC_READ_SEARCH to read and search them. That grants reading
// only (no writing, no other privilege), and the interception rules, which match by UID, still see the proxy's UID.
import { PROXY_UID } from '../../api/mesh/mesh-constants.ts';

/** `setpriv ... --`: prefix a command with it to run the command as the proxy UID. */
export function asProxyUid(): string[] {
  return ['setpriv', `--reuid=${PROXY_UID}`, `--regid=${PROXY_UID}`, '--clear-groups', '--inh-caps=+dac_read_search', '--ambient-caps=+dac_read_search', '--'];
}
