// Host header normalisation for routing: lower-case, port stripped, IPv6 literal kept in brackets,
// one trailing dot removed. Returns "" for a missing or empty Host.

export function normalizeHost(raw: string | undefined): string {
  if (raw === undefined || raw.length === 0) return "";
  let end = raw.length;
  if (raw.charCodeAt(0) === 91 /* [ */) {
    const close = raw.indexOf("]");
    end = close === -1 ? raw.length : close + 1;
  } else {
    const colon = raw.indexOf(":");
    if (colon !== -1) end = colon;
  }
  if (end > 1 && raw.charCodeAt(end - 1) === 46 /* . */) end--;
  const host = end === raw.length ? raw : raw.slice(0, end);
  return host.toLowerCase();
}
