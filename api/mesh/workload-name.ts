// The workload a pod belongs to, read from its name alone (no owner lookup): shared by the proxy (its own pod) and the
// control plane (each endpoint's pod), so both sides of a request name a workload the same way in metrics.

// Kubernetes' generated suffixes use an alphabet without vowels (rand.SafeEncodeString), so `node-exporter-x7k2p` is not
// mistaken for a ReplicaSet pod of `node`.
const REPLICA_SET_POD = /^(.+)-[bcdfghjklmnpqrstvwxz2456789]{6,10}-[bcdfghjklmnpqrstvwxz2456789]{5}$/;
const NAMED_POD = /^(.+)-[bcdfghjklmnpqrstvwxz2456789]{5}$/;

/**
 * A pod of a Deployment is `<deployment>-<template hash>-<5 chars>`, of a DaemonSet or Job `<name>-<5 chars>`: the owner's
 * name is the workload. Any other pod (a StatefulSet's `web-0`, a bare pod) is its own workload.
 */
export function workloadOfPod(pod: string): string {
  return REPLICA_SET_POD.exec(pod)?.[1] ?? NAMED_POD.exec(pod)?.[1] ?? pod;
}
