// Deterministic ordering of Ingresses by age: oldest creationTimestamp first (absent or
// unparseable after any present one), then namespace/name.
import type { Ingress } from "../model/index.js";

const rfc3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** "namespace/name". */
export function ingressRef(ingress: Ingress): string {
  return `${ingress.metadata.namespace}/${ingress.metadata.name}`;
}

/** Seconds since the epoch of an RFC 3339 timestamp, or null (no clock, no Date: pure arithmetic). */
export function timestampSeconds(text: string | undefined): number | null {
  const m = text === undefined ? null : rfc3339.exec(text);
  if (m === null) return null;
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number) as [number, number, number, number, number, number];
  const fraction = m[7] === undefined ? 0 : Number(m[7]);
  const zone = m[8] ?? "Z";
  const offset = zone === "Z" || zone === "z" ? 0 : (zone.startsWith("-") ? -1 : 1) * (Number(zone.slice(1, 3)) * 3600 + Number(zone.slice(4, 6)) * 60);
  return daysFromCivil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second + fraction - offset;
}

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

export function compareIngressAge(a: Ingress, b: Ingress): number {
  return compareAgeKeys(timestampSeconds(a.metadata.creationTimestamp), ingressRef(a), timestampSeconds(b.metadata.creationTimestamp), ingressRef(b));
}

/**
 * Sorts items oldest first, like compareIngressAge on `ingressOf(item)`, parsing each timestamp once
 * (sorting 10,000 Ingresses otherwise parses 250,000 timestamps).
 */
export function sortByIngressAge<T>(items: ReadonlyArray<T>, ingressOf: (item: T) => Ingress, secondsOf: (ingress: Ingress) => number | null = (i) => timestampSeconds(i.metadata.creationTimestamp)): T[] {
  const keyed = items.map((item) => {
    const ingress = ingressOf(item);
    return { item, seconds: secondsOf(ingress), ref: ingressRef(ingress) };
  });
  keyed.sort((a, b) => compareAgeKeys(a.seconds, a.ref, b.seconds, b.ref));
  return keyed.map((k) => k.item);
}

function compareAgeKeys(ta: number | null, refA: string, tb: number | null, refB: string): number {
  if (ta !== tb) {
    if (ta === null) return 1;
    if (tb === null) return -1;
    return ta - tb;
  }
  return compareText(refA, refB);
}

export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
