// Path mapping (httpd `ProxyPass /public/ http://member/target/`) and its reverse (ProxyPassReverse,
// ProxyPassReverseCookiePath, ProxyPassReverseCookieDomain), compiled once per route.
//
// Forward: the matched Prefix of the request path is replaced by `rewrite-target` (an Exact path is
// replaced whole); the rest of the path and the query are kept byte for byte (nothing is decoded
// or re-encoded). Reverse: response headers that point at the member are mapped back to the public
// URL. "Points at the member" means: an absolute URL (or `//authority` reference) whose authority is
// the member's address:port or the Host sent upstream, with a path under the target; or a
// path-absolute reference under the target. Such a URL gets the public scheme, the client's Host
// (host and port as the client sent it) and the public prefix; a path-absolute one stays
// path-absolute. Anything else (other hosts, paths outside the target, relative references) is left
// alone, as httpd does. Set-Cookie `Path=` under the target moves to the public prefix, and
// `Domain=` naming the upstream host or the member's address becomes the client's host.
//
// Everything here runs only for routes with a mapping (`CompiledRoute.mapping`/`reverse` !== null);
// per response it scans the header list once and allocates only for values it changes.

/** A route's path mapping: public path (the route's) <-> target path (`rewrite-target`). */
export class PathMapping {
  readonly exact: boolean;
  /** The route's path: "/api/users" (Prefix, no trailing "/"; "/" for the root) or the Exact path. */
  readonly publicPath: string;
  /** publicPath without a trailing "/" ("" for the root). */
  readonly publicBase: string;
  /** `rewrite-target` as written. */
  readonly target: string;
  /** target without trailing "/" ("" for "/"). */
  readonly targetBase: string;
  /** X-Forwarded-Prefix sent upstream: the public prefix the member is mounted at. */
  readonly forwardedPrefix: string;

  constructor(publicPath: string, exact: boolean, target: string) {
    this.exact = exact;
    this.publicPath = publicPath;
    this.publicBase = trimSlashes(publicPath);
    this.target = target;
    this.targetBase = trimSlashes(target);
    this.forwardedPrefix = publicPath;
  }

  /** The upstream request target for `path` (origin-form with query) that matched this route. */
  toUpstream(path: string): string {
    const q = path.indexOf("?");
    if (this.exact) return q === -1 ? this.target : this.target + path.slice(q);
    const base = this.publicBase;
    if (!path.startsWith(base)) return path; // not matched by this prefix (cannot happen for a routed path)
    const rest = path.slice(base.length);
    if (rest === "" || rest.charCodeAt(0) === 63 /* ? */) return this.target + rest;
    return this.targetBase + rest;
  }

  /**
   * The public form of a path-absolute reference from the member (path, then optional ?query and
   * #fragment), or null when its path is not under the target.
   */
  toPublic(ref: string): string | null {
    const end = pathEnd(ref);
    const tail = ref.slice(end);
    if (this.exact) {
      const path = end === ref.length ? ref : ref.slice(0, end);
      return path === this.target || (path === this.targetBase && path !== "") ? this.publicPath + tail : null;
    }
    const base = this.targetBase;
    if (base !== "") {
      if (!ref.startsWith(base)) return null;
      if (base.length < end && ref.charCodeAt(base.length) !== 47 /* / */) return null; // "/newer" is not under "/new"
    }
    const rest = ref.slice(base.length); // "", "/..." or "?..."/"#..."
    if (rest.length === 0 || base.length === end) return this.publicPath + rest;
    return this.publicBase + rest;
  }

  /** A Set-Cookie Path under the target, moved to the public prefix; null = not under it. */
  cookiePath(path: string): string | null {
    if (this.exact) return path === this.target || (path === this.targetBase && path !== "") ? this.publicPath : null;
    const base = this.targetBase;
    if (path === base || path === `${base}/`) return this.publicPath;
    if (!path.startsWith(`${base}/`)) return null;
    return this.publicBase + path.slice(base.length);
  }
}

function trimSlashes(path: string): string {
  let end = path.length;
  while (end > 0 && path.charCodeAt(end - 1) === 47) end--;
  return path.slice(0, end);
}

/** Index of the first "?" or "#", else the length. */
function pathEnd(ref: string): number {
  for (let i = 0; i < ref.length; i++) {
    const c = ref.charCodeAt(i);
    if (c === 63 || c === 35) return i;
  }
  return ref.length;
}

/** Host (lower-case, IPv6 without brackets) and port (-1 when absent) of an authority; null for userinfo or a malformed one. */
function splitAuthority(authority: string): { host: string; port: number } | null {
  if (authority === "" || authority.includes("@")) return null;
  let host: string;
  let portText = "";
  if (authority.charCodeAt(0) === 91 /* [ */) {
    const close = authority.indexOf("]");
    if (close === -1) return null;
    host = authority.slice(1, close);
    const after = authority.slice(close + 1);
    if (after !== "") {
      if (after.charCodeAt(0) !== 58) return null;
      portText = after.slice(1);
    }
  } else {
    const colon = authority.lastIndexOf(":");
    host = colon === -1 ? authority : authority.slice(0, colon);
    if (colon !== -1) portText = authority.slice(colon + 1);
  }
  let port = -1;
  if (portText !== "") {
    if (!/^[0-9]{1,5}$/.test(portText)) return null;
    port = Number(portText);
  }
  return { host: host.toLowerCase(), port };
}

/** The host part of a Host header value (no port, IPv6 keeps its brackets), lower-case. */
function hostOnly(hostValue: string): string {
  if (hostValue.charCodeAt(0) === 91) {
    const close = hostValue.indexOf("]");
    return (close === -1 ? hostValue : hostValue.slice(0, close + 1)).toLowerCase();
  }
  const colon = hostValue.lastIndexOf(":");
  return (colon === -1 ? hostValue : hostValue.slice(0, colon)).toLowerCase();
}

/** What a response is mapped back to and from: filled per response by the caller (one per Forwarder, reused). */
export class ReverseContext {
  /** "http" or "https": how the client reached us. */
  scheme = "http";
  /** The client's Host value (host[:port] as sent). */
  publicHost = "";
  /** The Host value sent upstream. */
  upstreamHost = "";
  /** The member's address (IP, or DNS name for ExternalName) and port. */
  memberAddress = "";
  memberPort = 0;
}

/** ProxyPassReverse for one route: `mapping` null when only the Host sent upstream differs. */
export class ReverseMap {
  readonly mapping: PathMapping | null;

  constructor(mapping: PathMapping | null) {
    this.mapping = mapping;
  }

  /** Rewrites Location, Content-Location, URI, Refresh and Set-Cookie in a flat [name, value, ...] list (lower-case names). */
  apply(out: string[], ctx: ReverseContext): void {
    for (let i = 0; i < out.length; i += 2) {
      let mapped: string | null;
      switch (out[i]) {
        case "location":
        case "content-location":
        case "uri":
          mapped = this.url(out[i + 1] as string, ctx);
          break;
        case "refresh":
          mapped = this.refresh(out[i + 1] as string, ctx);
          break;
        case "set-cookie":
          mapped = this.cookie(out[i + 1] as string, ctx);
          break;
        default:
          continue;
      }
      if (mapped !== null) out[i + 1] = mapped;
    }
  }

  /** The public URL for a member URL, or null to leave it alone. */
  url(value: string, ctx: ReverseContext): string | null {
    const first = value.charCodeAt(0);
    let authorityStart: number;
    let defaultPort: number;
    if (first === 47 /* / */) {
      if (value.charCodeAt(1) !== 47) return this.mapping === null ? null : this.mapping.toPublic(value);
      authorityStart = 2; // "//authority/path"
      defaultPort = 80;
    } else {
      const head = value.slice(0, 8).toLowerCase();
      if (head.startsWith("http://")) {
        authorityStart = 7;
        defaultPort = 80;
      } else if (head.startsWith("https://")) {
        authorityStart = 8;
        defaultPort = 443;
      } else return null;
    }
    let authorityEnd = value.length;
    for (let i = authorityStart; i < value.length; i++) {
      const c = value.charCodeAt(i);
      if (c === 47 || c === 63 || c === 35) {
        authorityEnd = i;
        break;
      }
    }
    if (!this.#pointsAtMember(value.slice(authorityStart, authorityEnd), defaultPort, ctx)) return null;
    let ref = value.slice(authorityEnd);
    if (ref === "" || ref.charCodeAt(0) !== 47) ref = `/${ref}`;
    const path = this.mapping === null ? ref : this.mapping.toPublic(ref);
    if (path === null) return null;
    return `${ctx.scheme}://${ctx.publicHost}${path}`;
  }

  #pointsAtMember(authority: string, defaultPort: number, ctx: ReverseContext): boolean {
    const a = splitAuthority(authority);
    if (a === null) return false;
    const port = a.port === -1 ? defaultPort : a.port;
    if (a.host === ctx.memberAddress.toLowerCase() && port === ctx.memberPort) return true;
    const up = splitAuthority(ctx.upstreamHost);
    if (up === null || up.host !== a.host) return false;
    // The Host sent upstream omits the default port; a URL without a port may be http or https.
    return a.port === -1 || a.port === (up.port === -1 ? 80 : up.port);
  }

  /** `Refresh: 5; url=...`: the url part follows Location rules. */
  refresh(value: string, ctx: ReverseContext): string | null {
    const k = value.toLowerCase().indexOf("url");
    if (k === -1) return null;
    let i = k + 3;
    while (value.charCodeAt(i) === 32) i++;
    if (value.charCodeAt(i) !== 61 /* = */) return null;
    i++;
    while (value.charCodeAt(i) === 32) i++;
    const c = value.charCodeAt(i);
    const quote = c === 34 ? '"' : c === 39 ? "'" : "";
    if (quote !== "") i++;
    let end = quote === "" ? value.length : value.indexOf(quote, i);
    if (end === -1) end = value.length;
    while (quote === "" && end > i && value.charCodeAt(end - 1) === 32) end--;
    const mapped = this.url(value.slice(i, end), ctx);
    return mapped === null ? null : value.slice(0, i) + mapped + value.slice(end);
  }

  /** Set-Cookie: Path under the target -> public prefix; Domain = upstream host or member address -> the client's host. */
  cookie(value: string, ctx: ReverseContext): string | null {
    let changed = false;
    const parts = value.split(";");
    for (let p = 1; p < parts.length; p++) {
      const part = parts[p] as string;
      const eq = part.indexOf("=");
      if (eq === -1) continue;
      const name = part.slice(0, eq).trim().toLowerCase();
      const lead = part.slice(0, eq + 1);
      const attr = part.slice(eq + 1).trim();
      if (name === "path" && this.mapping !== null) {
        const mapped = this.mapping.cookiePath(attr);
        if (mapped !== null && mapped !== attr) {
          parts[p] = lead + mapped;
          changed = true;
        }
      } else if (name === "domain") {
        const domain = (attr.charCodeAt(0) === 46 ? attr.slice(1) : attr).toLowerCase();
        const publicHost = hostOnly(ctx.publicHost);
        if (domain === publicHost || domain === "") continue;
        const upstream = hostOnly(ctx.upstreamHost);
        const member = ctx.memberAddress.toLowerCase();
        if (domain === upstream || domain === member || `[${domain}]` === upstream) {
          parts[p] = lead + (publicHost.charCodeAt(0) === 91 ? publicHost.slice(1, -1) : publicHost);
          changed = true;
        }
      }
    }
    return changed ? parts.join(";") : null;
  }
}

/** The Location of an `app-root` redirect: ingress-nginx's `return 302 $scheme://$http_host<app-root>`. */
export function appRootLocation(scheme: string, hostValue: string, appRoot: string): string {
  return `${scheme}://${hostValue}${appRoot}`;
}
