// Which Ingresses this controller serves.
import type { BuildSettings, Diagnostic, Ingress, IngressClass } from "../model/index.js";

export const defaultClassAnnotation = "ingressclass.kubernetes.io/is-default-class";
export const legacyClassAnnotation = "kubernetes.io/ingress.class";

export interface ClassSelection {
  /** The Ingresses of our class, in input order. */
  readonly ours: ReadonlyArray<Ingress>;
  readonly diagnostics: ReadonlyArray<Diagnostic>;
}

/**
 * An Ingress is ours when `spec.ingressClassName` is our class; else, without that field, when
 * the legacy annotation `kubernetes.io/ingress.class` is our class; else, with neither, when an
 * IngressClass of our controller is marked default. Our class name is not ours if an IngressClass
 * of that name names another controller.
 */
export function selectIngresses(ingresses: ReadonlyArray<Ingress>, classes: ReadonlyArray<IngressClass>, settings: BuildSettings): ClassSelection {
  const diagnostics: Diagnostic[] = [];
  const named = classes.find((c) => c.metadata.name === settings.ingressClass);
  const classIsOurs = named === undefined || named.spec.controller === settings.controllerName;
  if (!classIsOurs) {
    diagnostics.push({
      severity: "warning",
      kind: "IngressClass",
      object: settings.ingressClass,
      reason: "ForeignController",
      message: `IngressClass ${settings.ingressClass} names controller ${JSON.stringify(named.spec.controller ?? "")}, not ${settings.controllerName}; Ingresses of this class are not served`,
    });
  }
  const defaultIsOurs = classes.some((c) => c.spec.controller === settings.controllerName && c.metadata.annotations[defaultClassAnnotation] === "true");
  const ours = ingresses.filter((ingress) => {
    const className = ingress.spec.ingressClassName ?? ingress.metadata.annotations[legacyClassAnnotation];
    if (className !== undefined) return className === settings.ingressClass && classIsOurs;
    return defaultIsOurs;
  });
  return { ours, diagnostics };
}
