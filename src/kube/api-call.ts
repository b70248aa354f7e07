// Helpers for one client-node API call: per-call options (abort signal, Content-Type) and a short
// description of an API error for logs. Shared by the leader elector and the status writer.
import { Observable, type ConfigurationOptions, type RequestContext, type ResponseContext } from "@kubernetes/client-node";
import { describeError, statusOf } from "./errors.js";

/**
 * Per-call client-node options: an abort signal (timeout and stop) and optionally a Content-Type
 * (client-node sends PATCH as JSON Patch unless told otherwise).
 */
export function apiCallOptions(signal: AbortSignal, contentType?: string): ConfigurationOptions {
  return {
    middleware: [
      {
        pre: (ctx: RequestContext) => {
          ctx.setSignal(signal);
          if (contentType !== undefined) ctx.setHeaderParam("Content-Type", contentType);
          return new Observable(Promise.resolve(ctx));
        },
        post: (res: ResponseContext) => new Observable(Promise.resolve(res)),
      },
    ],
    middlewareMergeStrategy: "append",
  };
}

/** A short description of an API error: the HTTP status and the Status message, without headers. */
export function describeApiError(err: unknown): string {
  const status = statusOf(err);
  if (status === undefined || err === null || typeof err !== "object") return describeError(err);
  let message = "";
  if ("body" in err) {
    const body = err.body;
    let parsed: unknown = body;
    if (typeof body === "string") {
      try {
        parsed = JSON.parse(body) as unknown;
      } catch {
        parsed = body;
      }
    }
    if (parsed !== null && typeof parsed === "object" && "message" in parsed && typeof parsed.message === "string") message = parsed.message;
    else if (typeof parsed === "string") message = parsed.slice(0, 200);
  }
  return message === "" ? `HTTP ${status}` : `HTTP ${status}: ${message}`;
}

