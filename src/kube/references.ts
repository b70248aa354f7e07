// What the Ingresses refer to: Services (backends, hot-standby, ExternalName targets) and Secrets
// (TLS, annotation-named). Decides whether a Service, EndpointSlice or Secret event can matter.
import type { Ingress, IngressBackend, Service } from "../model/index.js";

export interface References {
  /** "namespace/name" of every referenced Service. */
  readonly services: ReadonlySet<string>;
  /** "namespace/name" of every referenced Secret. */
  readonly secrets: ReadonlySet<string>;
}

/** Annotations whose value names a Secret in the Ingress's namespace ("name" or "namespace/name"). */
export const secretAnnotations: ReadonlyArray<string> = ["proxypass.io/auth-secret", "proxypass.io/backend-ca-secret", "proxypass.io/ajp-secret"];
/**
 * The Secret data keys anything in the builder reads: `tls.crt`/`tls.key` (TLS), `ca.crt`
 * (`backend-ca-secret`), `auth` (`auth-secret`, htpasswd), `secret` (`ajp-secret`). The Kubernetes
 * source keeps only these of each Secret; a new key read from a Secret must be added here.
 */
export const keptSecretKeys: ReadonlySet<string> = new Set(["tls.crt", "tls.key", "ca.crt", "auth", "secret"]);
/** Annotations whose value is "SERVICE:PORT" in the Ingress's namespace. */
export const serviceAnnotations: ReadonlyArray<string> = ["proxypass.io/hot-standby"];

const externalNamePattern = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\.([a-z0-9]([-a-z0-9]*[a-z0-9])?)\.svc(\.[a-z0-9.-]+)?\.?$/;

export function collectReferences(
  ingresses: Iterable<Ingress>,
  serviceByKey: (key: string) => Service | undefined,
  extraSecrets: ReadonlyArray<string> = [],
): References {
  const services = new Set<string>();
  const secrets = new Set<string>(extraSecrets);
  const addBackend = (ns: string, backend: IngressBackend | undefined): void => {
    if (backend?.service !== undefined) services.add(`${ns}/${backend.service.name}`);
  };
  for (const ing of ingresses) {
    const ns = ing.metadata.namespace;
    addBackend(ns, ing.spec.defaultBackend);
    for (const rule of ing.spec.rules) for (const path of rule.http?.paths ?? []) addBackend(ns, path.backend);
    for (const tls of ing.spec.tls) if (tls.secretName !== undefined && tls.secretName !== "") secrets.add(`${ns}/${tls.secretName}`);
    for (const key of serviceAnnotations) {
      const value = ing.metadata.annotations[key]?.trim();
      const name = value?.split(":")[0]?.trim();
      if (name !== undefined && name !== "") services.add(`${ns}/${name}`);
    }
    for (const key of secretAnnotations) {
      const value = ing.metadata.annotations[key]?.trim();
      if (value !== undefined && value !== "") secrets.add(value.includes("/") ? value : `${ns}/${value}`);
    }
  }
  // An ExternalName Service pointing at another Service's cluster DNS name makes that one matter too.
  for (const key of [...services]) {
    const svc = serviceByKey(key);
    if (svc?.spec.type !== "ExternalName" || svc.spec.externalName === undefined) continue;
    const m = externalNamePattern.exec(svc.spec.externalName.toLowerCase());
    if (m !== null) services.add(`${m[3] ?? ""}/${m[1] ?? ""}`);
  }
  return { services, secrets };
}
