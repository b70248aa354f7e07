/**
 * The object store behind the stand-in: one global resourceVersion counter, server-set metadata,
 * optimistic concurrency, and a bounded history of changes for watch replay.
 */
import { randomUUID } from "node:crypto";
import { deepEqual, isObject, jsonClone, stringAt, type JsonObject } from "./json.js";
import { apiVersionOf, qualifiedName, type ResourceType } from "./resources.js";
import { KubeApiError } from "./status.js";

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  [key: string]: unknown;
}

/** A Kubernetes object as the stand-in stores and serves it (plain JSON). */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta & { name: string; uid: string; resourceVersion: string; creationTimestamp: string };
  [key: string]: unknown;
}

/** What tests and clients hand in: kind/apiVersion plus whatever fields they set. */
export interface KubeObjectInput {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  [key: string]: unknown;
}

export type ChangeType = "ADDED" | "MODIFIED" | "DELETED";

export interface ChangeEvent {
  readonly rv: number;
  readonly type: ChangeType;
  readonly resource: ResourceType;
  /** The object after the change (for DELETED: the last state, carrying the deletion's resourceVersion). */
  readonly object: KubeObject;
  /** The object before the change (null for ADDED), so watches can apply selectors to both sides. */
  readonly previous: KubeObject | null;
}

export type WriteMode =
  /** Client PUT/PATCH on the main resource: status changes are ignored where a status subresource exists. */
  | "main"
  /** Client PUT/PATCH on `/status`: only status changes are kept. */
  | "status"
  /** Test-side `apply()`: the object is stored as given (status included), resourceVersion ignored. */
  | "force";

const NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
const MICRO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}(Z|[+-]\d\d:\d\d)$/;

function key(namespace: string | undefined, name: string): string {
  return `${namespace ?? ""}/${name}`;
}

function timestamp(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, "Z");
}

/** Everything but metadata and status: a change here bumps metadata.generation. */
function specPart(obj: JsonObject): JsonObject {
  const rest: JsonObject = { ...obj };
  delete rest.metadata;
  delete rest.status;
  delete rest.kind;
  delete rest.apiVersion;
  return rest;
}

export class Store {
  #rv = 0;
  #compactedRv = 0;
  readonly #historyLimit: number;
  readonly #objects = new Map<ResourceType, Map<string, KubeObject>>();
  #history: ChangeEvent[] = [];
  readonly #listeners = new Set<(event: ChangeEvent) => void>();

  constructor(historyLimit: number) {
    this.#historyLimit = historyLimit;
  }

  /** The latest resourceVersion handed out. */
  get resourceVersion(): number {
    return this.#rv;
  }

  /** Watches from a resourceVersion below this one are answered with 410 Gone. */
  get compactedRv(): number {
    return this.#compactedRv;
  }

  subscribe(listener: (event: ChangeEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Changes after `rv`, or "gone" when history no longer reaches back that far. */
  since(rv: number): readonly ChangeEvent[] | "gone" {
    if (rv < this.#compactedRv) return "gone";
    return this.#history.filter((e) => e.rv > rv);
  }

  /** Drops all history: watches from any resourceVersion older than the current one get 410. */
  compact(): void {
    this.#history = [];
    this.#compactedRv = this.#rv;
  }

  list(resource: ResourceType, namespace?: string): KubeObject[] {
    const items = [...(this.#objects.get(resource)?.values() ?? [])].filter((o) => namespace === undefined || o.metadata.namespace === namespace);
    items.sort((a, b) => key(a.metadata.namespace, a.metadata.name).localeCompare(key(b.metadata.namespace, b.metadata.name)));
    return items.map((o) => jsonClone(o));
  }

  get(resource: ResourceType, namespace: string | undefined, name: string): KubeObject | undefined {
    const found = this.#objects.get(resource)?.get(key(resource.namespaced ? namespace : undefined, name));
    return found ? jsonClone(found) : undefined;
  }

  #require(resource: ResourceType, namespace: string | undefined, name: string): KubeObject {
    const found = this.#objects.get(resource)?.get(key(resource.namespaced ? namespace : undefined, name));
    if (!found) throw this.notFound(resource, name);
    return found;
  }

  notFound(resource: ResourceType, name: string): KubeApiError {
    return new KubeApiError("NotFound", `${qualifiedName(resource)} "${name}" not found`, { name, group: resource.group, kind: resource.plural });
  }

  #validate(resource: ResourceType, obj: JsonObject, name: string): void {
    const causes: Array<{ reason: string; message: string; field: string }> = [];
    if (!NAME.test(name) || name.length > 253) {
      causes.push({ reason: "FieldValueInvalid", field: "metadata.name", message: `Invalid value: ${JSON.stringify(name)}: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'` });
    }
    for (const field of resource.requiredFields) {
      if (stringAt(obj, field) === undefined) causes.push({ reason: "FieldValueRequired", field, message: "Required value" });
    }
    if (causes.length > 0) {
      throw new KubeApiError("Invalid", `${resource.kind} ${JSON.stringify(name)} is invalid: ${causes.map((c) => `${c.field}: ${c.message}`).join(", ")}`, {
        name,
        group: resource.group,
        kind: resource.kind,
        causes,
      });
    }
  }

  /** MicroTime fields must have 6 fractional digits: a real server fails to decode anything else. */
  #checkMicroTimes(resource: ResourceType, obj: JsonObject): void {
    for (const field of resource.microTimeFields) {
      const value = stringAt(obj, field);
      if (value !== undefined && !MICRO_TIME.test(value)) {
        throw new KubeApiError(
          "BadRequest",
          `${resource.kind} in version "${resource.version}" cannot be handled as a ${resource.kind}: parsing time ${JSON.stringify(value)} as "2006-01-02T15:04:05.000000Z07:00": cannot parse (${field} is a MicroTime: 6 fractional digits)`,
        );
      }
    }
  }

  #record(type: ChangeType, resource: ResourceType, object: KubeObject, previous: KubeObject | null): void {
    const event: ChangeEvent = { rv: this.#rv, type, resource, object, previous };
    this.#history.push(event);
    if (this.#history.length > this.#historyLimit) {
      const dropped = this.#history.splice(0, this.#history.length - this.#historyLimit);
      this.#compactedRv = Math.max(this.#compactedRv, dropped[dropped.length - 1]?.rv ?? 0);
    }
    for (const listener of [...this.#listeners]) listener(event);
  }

  #normalise(resource: ResourceType, input: unknown, namespace: string | undefined): { obj: JsonObject; meta: ObjectMeta } {
    if (!isObject(input)) throw new KubeApiError("BadRequest", "the body must be a JSON object");
    const obj = jsonClone(input);
    const rawMeta = obj.metadata;
    const meta: ObjectMeta = isObject(rawMeta) ? { ...rawMeta } : {};
    if (resource.namespaced) {
      const ns = namespace ?? meta.namespace ?? "default";
      if (meta.namespace !== undefined && meta.namespace !== ns) {
        throw new KubeApiError("BadRequest", "the namespace of the provided object does not match the namespace sent on the request");
      }
      meta.namespace = ns;
    } else {
      delete meta.namespace;
    }
    obj.apiVersion = apiVersionOf(resource);
    obj.kind = resource.kind;
    obj.metadata = meta;
    return { obj, meta };
  }

  create(resource: ResourceType, input: unknown, namespace?: string): KubeObject {
    const { obj, meta } = this.#normalise(resource, input, namespace);
    let name = typeof meta.name === "string" ? meta.name : "";
    if (name === "" && typeof meta.generateName === "string" && meta.generateName !== "") {
      name = `${meta.generateName}${randomUUID().replaceAll("-", "").slice(0, 5)}`;
    }
    if (name === "") {
      throw new KubeApiError("Invalid", `${resource.kind} "" is invalid: metadata.name: Required value: name or generateName is required`, {
        group: resource.group,
        kind: resource.kind,
        causes: [{ reason: "FieldValueRequired", field: "metadata.name", message: "Required value: name or generateName is required" }],
      });
    }
    this.#validate(resource, obj, name);
    this.#checkMicroTimes(resource, obj);
    const objects = this.#objects.get(resource) ?? new Map<string, KubeObject>();
    this.#objects.set(resource, objects);
    const k = key(meta.namespace, name);
    if (objects.has(k)) {
      throw new KubeApiError("AlreadyExists", `${qualifiedName(resource)} "${name}" already exists`, { name, group: resource.group, kind: resource.plural });
    }
    this.#rv++;
    const stored = {
      ...obj,
      metadata: { ...meta, name, uid: randomUUID(), resourceVersion: String(this.#rv), generation: 1, creationTimestamp: timestamp() },
    } as KubeObject;
    delete stored.metadata.deletionTimestamp;
    objects.set(k, stored);
    this.#record("ADDED", resource, jsonClone(stored), null);
    return jsonClone(stored);
  }

  /**
   * PUT semantics. `mode` says which part of the body counts (see WriteMode). A stale
   * metadata.resourceVersion answers 409 Conflict (except in "force" mode); a write that changes
   * nothing keeps the resourceVersion and sends no event, as on a real server.
   */
  update(resource: ResourceType, input: unknown, namespace: string | undefined, name: string, mode: WriteMode): KubeObject {
    const current = this.#require(resource, namespace, name);
    const { obj, meta } = this.#normalise(resource, input, namespace);
    if (meta.name !== undefined && meta.name !== name) {
      throw new KubeApiError("BadRequest", `the name of the object (${String(meta.name)}) does not match the name on the URL (${name})`);
    }
    if (mode !== "force" && meta.resourceVersion !== undefined && meta.resourceVersion !== "" && meta.resourceVersion !== current.metadata.resourceVersion) {
      throw new KubeApiError(
        "Conflict",
        `Operation cannot be fulfilled on ${qualifiedName(resource)} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
        { name, group: resource.group, kind: resource.plural },
      );
    }
    let next: JsonObject;
    if (mode === "status") {
      next = { ...jsonClone(current), status: obj.status };
    } else {
      next = { ...obj };
      if (mode === "main" && resource.statusSubresource) next.status = jsonClone(current.status);
      next.metadata = { ...meta, name };
    }
    if (next.status === undefined) delete next.status;
    this.#validate(resource, next, name);
    this.#checkMicroTimes(resource, next);
    const nextMeta = next.metadata as ObjectMeta;
    const generation = current.metadata.generation ?? 1;
    const candidate = {
      ...next,
      metadata: {
        ...nextMeta,
        name,
        namespace: current.metadata.namespace,
        uid: current.metadata.uid,
        creationTimestamp: current.metadata.creationTimestamp,
        resourceVersion: current.metadata.resourceVersion,
        generation: deepEqual(specPart(next), specPart(current)) ? generation : generation + 1,
      },
    } as KubeObject;
    if (candidate.metadata.namespace === undefined) delete candidate.metadata.namespace;
    if (deepEqual(candidate, current)) return jsonClone(current);
    this.#rv++;
    candidate.metadata.resourceVersion = String(this.#rv);
    this.#objects.get(resource)?.set(key(current.metadata.namespace, name), candidate);
    this.#record("MODIFIED", resource, jsonClone(candidate), jsonClone(current));
    return jsonClone(candidate);
  }

  /** PATCH: `patchFn` turns the current object into the desired one; then PUT semantics apply. */
  patch(resource: ResourceType, namespace: string | undefined, name: string, mode: WriteMode, patchFn: (current: KubeObject) => unknown): KubeObject {
    const current = jsonClone(this.#require(resource, namespace, name));
    const patched = patchFn(current);
    if (!isObject(patched)) throw new KubeApiError("BadRequest", "the patch does not result in an object");
    // A resourceVersion in the patch is a precondition; without one the patch applies to the latest.
    return this.update(resource, patched, namespace, name, mode);
  }

  delete(resource: ResourceType, namespace: string | undefined, name: string, preconditions?: { resourceVersion?: string; uid?: string }): KubeObject {
    const current = this.#require(resource, namespace, name);
    if (
      (preconditions?.resourceVersion !== undefined && preconditions.resourceVersion !== current.metadata.resourceVersion) ||
      (preconditions?.uid !== undefined && preconditions.uid !== current.metadata.uid)
    ) {
      throw new KubeApiError("Conflict", `Operation cannot be fulfilled on ${qualifiedName(resource)} "${name}": the precondition did not hold`, {
        name,
        group: resource.group,
        kind: resource.plural,
      });
    }
    this.#objects.get(resource)?.delete(key(current.metadata.namespace, name));
    this.#rv++;
    const last = { ...jsonClone(current), metadata: { ...jsonClone(current.metadata), resourceVersion: String(this.#rv) } };
    this.#record("DELETED", resource, last, jsonClone(current));
    return jsonClone(last);
  }
}
