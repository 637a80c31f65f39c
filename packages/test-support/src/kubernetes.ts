/**
 * Kubernetes' side of the deployment tests, without a cluster: the manifests of deploy/kubernetes
 * parsed with a real YAML parser, a container's environment as the kubelet builds it (envFrom,
 * then env in order with $(VAR) expansion), and NetworkPolicy ingress rules evaluated as the
 * NetworkPolicy API defines them.
 */
import { readdirSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { readRepoFile, repoPath } from './repo.js';

export type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- its shape depends on `kind`; the tests read each kind's fields from parsed YAML
  data?: Record<string, string>;
  stringData?: Record<string, string>;
};

export const K8S_DIR = repoPath('deploy', 'kubernetes');

/** Every object of every manifest in deploy/kubernetes (kustomization.yaml aside), with its file. */
export function loadManifests(): Array<K8sObject & { file: string }> {
  const objects: Array<K8sObject & { file: string }> = [];
  for (const f of readdirSync(K8S_DIR).filter((n) => /\.ya?ml$/.test(n))) {
    if (f === 'kustomization.yaml') continue;
    for (const doc of parseAllDocuments(readRepoFile('deploy', 'kubernetes', f))) {
      if (doc.errors.length > 0) throw new Error(`${f}: ${doc.errors.map((e) => e.message).join('; ')}`);
      const o = doc.toJS() as K8sObject | null;
      if (o) objects.push({ ...o, file: f });
    }
  }
  return objects;
}

/** Kubernetes' $(VAR) expansion: defined variables are replaced, others left as written; $$ escapes. */
export function expandK8s(value: string, vars: Record<string, string>): string {
  return value.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (m, name: string | undefined) => {
    if (name === undefined) return '$';
    return vars[name] ?? m;
  });
}

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    secretKeyRef?: { name: string; key: string; optional?: boolean };
    configMapKeyRef?: { name: string; key: string; optional?: boolean };
    fieldRef?: { fieldPath: string };
  };
}

interface Container {
  env?: EnvVar[];
  envFrom?: Array<{ configMapRef?: { name: string }; secretRef?: { name: string } }>;
}

/**
 * The environment the kubelet gives `container`: envFrom sources first, then each `env` entry in
 * order, its value expanded against everything defined before it. A missing Secret or key (not
 * optional) throws, as the kubelet refuses to start the container (CreateContainerConfigError).
 */
export function containerEnv(
  container: Container,
  sources: { configMaps: K8sObject[]; secrets: K8sObject[]; fieldRefs?: Record<string, string> },
): Record<string, string> {
  const dataOf = (kind: 'ConfigMap' | 'Secret', name: string) => {
    const o = (kind === 'ConfigMap' ? sources.configMaps : sources.secrets).find((x) => x.metadata.name === name);
    if (!o) throw new Error(`${kind} ${name} not found`);
    return { ...(o.data ?? {}), ...(o.stringData ?? {}) };
  };
  const env: Record<string, string> = {};
  for (const from of container.envFrom ?? []) {
    if (from.configMapRef) Object.assign(env, dataOf('ConfigMap', from.configMapRef.name));
    if (from.secretRef) Object.assign(env, dataOf('Secret', from.secretRef.name));
  }
  for (const v of container.env ?? []) {
    if (v.value !== undefined) env[v.name] = expandK8s(v.value, env);
    else if (v.valueFrom?.secretKeyRef || v.valueFrom?.configMapKeyRef) {
      const ref = (v.valueFrom.secretKeyRef ?? v.valueFrom.configMapKeyRef)!;
      const data = dataOf(v.valueFrom.secretKeyRef ? 'Secret' : 'ConfigMap', ref.name);
      if (data[ref.key] !== undefined) env[v.name] = data[ref.key]!;
      else if (!ref.optional) throw new Error(`${v.name}: key ${ref.key} not in ${ref.name}`);
    } else if (v.valueFrom?.fieldRef) env[v.name] = sources.fieldRefs?.[v.valueFrom.fieldRef.fieldPath] ?? `<${v.valueFrom.fieldRef.fieldPath}>`;
  }
  return env;
}

// ------------------------------------------------------------------------------------------------
// NetworkPolicy (networking.k8s.io/v1), ingress only

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: Array<{ key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; values?: string[] }>;
}

/** An empty selector selects everything; every term must hold. */
export function selects(sel: LabelSelector | undefined, labels: Record<string, string>): boolean {
  if (!sel) return true;
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of sel.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(labels, e.key);
    const ok =
      e.operator === 'In'
        ? has && (e.values ?? []).includes(labels[e.key]!)
        : e.operator === 'NotIn'
          ? !has || !(e.values ?? []).includes(labels[e.key]!)
          : e.operator === 'Exists'
            ? has
            : !has;
    if (!ok) return false;
  }
  return true;
}

/** Where a connection comes from: a pod, its labels, its namespace and that namespace's labels. */
export interface PodPeer {
  namespace: string;
  podLabels: Record<string, string>;
  /** Defaults to the label every namespace carries, kubernetes.io/metadata.name. */
  namespaceLabels?: Record<string, string>;
}

interface PolicyPeer {
  podSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
  ipBlock?: unknown;
}

interface IngressRule {
  from?: PolicyPeer[];
  ports?: Array<{ port?: number | string; protocol?: string }>;
}

/** The fields of a NetworkPolicy's spec that ingressAllowed reads. */
interface NetworkPolicySpec {
  podSelector?: LabelSelector;
  policyTypes?: string[];
  ingress?: IngressRule[];
}

/**
 * Whether a TCP connection from `peer` to `port` of a pod labelled `target` (in `namespace`, where
 * the policies live) is allowed. Unselected pods accept everything; a pod selected by a policy
 * with Ingress accepts only what one of those policies' rules allows. Named ports resolve through
 * `namedPorts` (the target container's). ipBlock peers never match a pod here.
 */
export function ingressAllowed(
  policies: K8sObject[],
  namespace: string,
  target: { labels: Record<string, string>; namedPorts?: Record<string, number> },
  peer: PodPeer,
  port: number,
): boolean {
  const isolating = policies
    .map((p) => p.spec as NetworkPolicySpec)
    .filter((spec) => selects(spec.podSelector, target.labels) && (spec.policyTypes ?? ['Ingress']).includes('Ingress'));
  if (isolating.length === 0) return true;
  const nsLabels = peer.namespaceLabels ?? { 'kubernetes.io/metadata.name': peer.namespace };
  const peerMatches = (q: PolicyPeer) => {
    if (q.ipBlock) return false;
    if (q.namespaceSelector === undefined) return peer.namespace === namespace && selects(q.podSelector, peer.podLabels);
    return selects(q.namespaceSelector, nsLabels) && selects(q.podSelector, peer.podLabels);
  };
  const portMatches = (p: { port?: number | string; protocol?: string }) => {
    if ((p.protocol ?? 'TCP') !== 'TCP') return false;
    if (p.port === undefined) return true;
    return (typeof p.port === 'number' ? p.port : target.namedPorts?.[p.port]) === port;
  };
  return isolating.some((spec) =>
    (spec.ingress ?? []).some(
      (r) =>
        (r.from === undefined || r.from.length === 0 || r.from.some(peerMatches)) &&
        (r.ports === undefined || r.ports.length === 0 || r.ports.some(portMatches)),
    ),
  );
}
