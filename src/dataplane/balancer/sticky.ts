// Sticky routes from a request (httpd `stickysession=COOKIE|param`, `stickysessionsep=.`): the URL
// parameter wins over the cookie; the route is the value's text after its first "." (Tomcat's
// `sessionid.jvmRoute`), else the whole value. Plain character scans: no regex, no split, and the
// only allocation is the returned route (plus the cookie value it is cut from).

import type { StickyConfig } from "../../model/index.js";

const SEMICOLON = 59;
const AMPERSAND = 38;
const QUESTION = 63;
const HASH = 35;
const SLASH = 47;
const EQUALS = 61;
const SPACE = 32;
const TAB = 9;
const DQUOTE = 34;
const DOT = 46;

/**
 * The route a request names, or null. `target`: the request target (path and query) as forwarded;
 * `cookie`: the request's Cookie header lines joined with "; " (null: none).
 */
export function stickyRouteOf(target: string, cookie: string | null, sticky: StickyConfig): string | null {
  if (sticky.param !== null) {
    const start = urlParamStart(target, sticky.param);
    if (start !== -1) return routeIn(target, start, rangeEnd);
  }
  if (cookie === null) return null;
  const start = cookieValueStart(cookie, sticky.cookie);
  return start === -1 ? null : routeIn(cookie, start, rangeEnd);
}

/** End (exclusive) of the value the last *Start function found: a scratch word, not an allocation. */
let rangeEnd = 0;

/** The route inside text[start, end): after the first ".", else all of it; empty -> null. One slice. */
function routeIn(text: string, start: number, end: number): string | null {
  let from = start;
  for (let i = start; i < end; i++) {
    if (text.charCodeAt(i) === DOT) {
      from = i + 1;
      break;
    }
  }
  return from >= end ? null : text.slice(from, end);
}

/** The text after the first "." of a session value, else the whole value; "" -> null. */
export function routeOfValue(value: string): string | null {
  const dot = value.indexOf(".");
  if (dot === -1) return value === "" ? null : value;
  return dot === value.length - 1 ? null : value.slice(dot + 1);
}

/**
 * The value of `;name=` (a path parameter, ends at ";", "/", "?" or "#") or of `?name=` / `&name=`
 * (a query parameter, ends at "&", ";" or "#"); path parameters first. Case-sensitive, like httpd.
 */
export function urlParam(target: string, name: string): string | null {
  const start = urlParamStart(target, name);
  return start === -1 ? null : target.slice(start, rangeEnd);
}

/** Start of the parameter's value in `target` (its end in `rangeEnd`), or -1. */
function urlParamStart(target: string, name: string): number {
  const n = name.length;
  if (n === 0) return -1;
  let query = -1;
  // Path part: ";name=" up to the query.
  for (let i = 0; i < target.length; i++) {
    const c = target.charCodeAt(i);
    if (c === QUESTION) {
      query = i;
      break;
    }
    if (c === HASH) return -1;
    if (c === SEMICOLON && target.charCodeAt(i + 1 + n) === EQUALS && target.startsWith(name, i + 1)) {
      const start = i + 2 + n;
      let end = start;
      while (end < target.length) {
        const e = target.charCodeAt(end);
        if (e === SEMICOLON || e === SLASH || e === QUESTION || e === HASH) break;
        end++;
      }
      rangeEnd = end;
      return start;
    }
  }
  if (query === -1) return -1;
  // Query part: "?name=" or "&name=".
  for (let i = query; i < target.length; i++) {
    const c = target.charCodeAt(i);
    if (c === HASH) return -1;
    if ((c === QUESTION || c === AMPERSAND) && target.charCodeAt(i + 1 + n) === EQUALS && target.startsWith(name, i + 1)) {
      const start = i + 2 + n;
      let end = start;
      while (end < target.length) {
        const e = target.charCodeAt(end);
        if (e === AMPERSAND || e === SEMICOLON || e === HASH) break;
        end++;
      }
      rangeEnd = end;
      return start;
    }
  }
  return -1;
}

/**
 * The value of the first cookie called `name` in a Cookie header (`a=1; b=2`), without surrounding
 * whitespace or double quotes; null when absent. Names are case-sensitive (RFC 6265).
 */
export function cookieValue(header: string, name: string): string | null {
  const start = cookieValueStart(header, name);
  return start === -1 ? null : header.slice(start, rangeEnd);
}

/** Start of the cookie's value in `header` (its end in `rangeEnd`), or -1. */
function cookieValueStart(header: string, name: string): number {
  const n = name.length;
  const len = header.length;
  let i = 0;
  while (i < len) {
    while (i < len && (header.charCodeAt(i) === SPACE || header.charCodeAt(i) === TAB)) i++;
    let j = i + n;
    if (header.startsWith(name, i)) {
      while (j < len && (header.charCodeAt(j) === SPACE || header.charCodeAt(j) === TAB)) j++;
      if (header.charCodeAt(j) === EQUALS) {
        let start = j + 1;
        let end = header.indexOf(";", start);
        if (end === -1) end = len;
        while (start < end && (header.charCodeAt(start) === SPACE || header.charCodeAt(start) === TAB)) start++;
        while (end > start && (header.charCodeAt(end - 1) === SPACE || header.charCodeAt(end - 1) === TAB)) end--;
        if (end - start >= 2 && header.charCodeAt(start) === DQUOTE && header.charCodeAt(end - 1) === DQUOTE) {
          start++;
          end--;
        }
        rangeEnd = end;
        return start;
      }
    }
    const next = header.indexOf(";", i);
    if (next === -1) return -1;
    i = next + 1;
  }
  return -1;
}
