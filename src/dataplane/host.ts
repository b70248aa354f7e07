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

// RFC 3986 reg-name characters (unreserved, pct-encoded "%", sub-delims) and IP-literal contents
// (hex, ":", ".", plus the IPvFuture/zone characters), as ASCII lookup tables built once.
const REG_NAME = new Uint8Array(128);
const IP_LITERAL = new Uint8Array(128);
for (let c = 48; c <= 57; c++) REG_NAME[c] = IP_LITERAL[c] = 1;
for (let c = 65; c <= 90; c++) REG_NAME[c] = REG_NAME[c + 32] = IP_LITERAL[c] = IP_LITERAL[c + 32] = 1;
for (const ch of "-._~%!$&'()*+,;=") REG_NAME[ch.charCodeAt(0)] = 1;
for (const ch of "-._~%:") IP_LITERAL[ch.charCodeAt(0)] = 1;

function isPort(raw: string, from: number): boolean {
  for (let i = from; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/**
 * Validates a Host header value (or an absolute-form authority) against RFC 9110's
 * `uri-host [ ":" port ]` and returns it normalised as `normalizeHost` does; null when invalid
 * (userinfo, a path, a non-numeric port, junk after an IPv6 literal...), which the caller answers
 * with 400 so that the host we route by is exactly the host the upstream is told.
 */
export function parseHost(raw: string): string | null {
  const n = raw.length;
  if (n === 0) return "";
  let end: number;
  if (raw.charCodeAt(0) === 91 /* [ */) {
    let i = 1;
    for (; i < n; i++) {
      const c = raw.charCodeAt(i);
      if (c === 93 /* ] */) break;
      if (c >= 128 || IP_LITERAL[c] !== 1) return null;
    }
    if (i === n || i === 1) return null;
    end = i + 1;
    if (end !== n && (raw.charCodeAt(end) !== 58 /* : */ || !isPort(raw, end + 1))) return null;
  } else {
    let i = 0;
    for (; i < n; i++) {
      const c = raw.charCodeAt(i);
      if (c === 58 /* : */) break;
      if (c >= 128 || REG_NAME[c] !== 1) return null;
    }
    if (i === 0) return null;
    if (i !== n && !isPort(raw, i + 1)) return null;
    end = i;
  }
  if (end > 1 && raw.charCodeAt(end - 1) === 46 /* . */) end--;
  return (end === n ? raw : raw.slice(0, end)).toLowerCase();
}
