// Host names of Ingress rules and of the upstream-vhost annotation.

const label = "[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?";
const dnsName = new RegExp(`^${label}(?:\\.${label})*$`);
const maxHostLength = 253;

export type HostCheck = { readonly ok: true; readonly host: string } | { readonly ok: false; readonly reason: string };

/** A DNS-1123 subdomain (lower-cased), e.g. "a.example.com". */
export function isDnsName(host: string): boolean {
  return host.length <= maxHostLength && dnsName.test(host);
}

/**
 * An Ingress rule host: exact DNS name, or `*.` + DNS name (a wildcard of exactly one label).
 * Lower-cased. "" (no host) is not a host here; callers map it to the any-host virtual host.
 */
export function checkRuleHost(raw: string): HostCheck {
  const host = raw.toLowerCase();
  const name = host.startsWith("*.") ? host.slice(2) : host;
  if (isDnsName(name)) return { ok: true, host };
  const reason = name.includes("*")
    ? "a wildcard must be a single leading \"*.\" label followed by a DNS name, like *.example.com"
    : "must be a DNS name (letters, digits, '-' and '.'; no port, no trailing dot), like app.example.com";
  return { ok: false, reason };
}

const hostPort = /^(\[[0-9a-f:.]+\]|[^:[\]]+)(?::([0-9]{1,5}))?$/;

/** `host[:port]` as sent in a Host header: DNS name or IPv4, or [IPv6]; port 1-65535. Lower-cased. */
export function checkHostPort(raw: string): HostCheck {
  const value = raw.toLowerCase();
  const match = hostPort.exec(value);
  const host = match?.[1];
  const port = match?.[2];
  if (match === null || host === undefined) return { ok: false, reason: "must be host or host:port" };
  if (!host.startsWith("[") && !isDnsName(host)) return { ok: false, reason: "host must be a DNS name, an IPv4 address or a bracketed IPv6 address" };
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) return { ok: false, reason: "port must be 1-65535" };
  return { ok: true, host: value };
}
