/** Kubernetes `Status` objects and the error type the stand-in throws to answer with one. */

export interface StatusDetails {
  readonly name?: string;
  readonly group?: string;
  readonly kind?: string;
  readonly uid?: string;
  readonly causes?: ReadonlyArray<{ readonly reason: string; readonly message: string; readonly field?: string }>;
}

export interface StatusObject {
  readonly kind: "Status";
  readonly apiVersion: "v1";
  readonly metadata: Record<string, never>;
  readonly status: "Success" | "Failure";
  readonly message?: string;
  readonly reason?: string;
  readonly details?: StatusDetails;
  readonly code: number;
}

/** Reasons the stand-in uses, with the HTTP code each one carries. */
export const REASON_CODES = {
  BadRequest: 400,
  Unauthorized: 401,
  NotFound: 404,
  MethodNotAllowed: 405,
  AlreadyExists: 409,
  Conflict: 409,
  Expired: 410,
  UnsupportedMediaType: 415,
  Invalid: 422,
  InternalError: 500,
  ServiceUnavailable: 503,
} as const;

export type StatusReason = keyof typeof REASON_CODES;

export function failureStatus(code: number, reason: string, message: string, details?: StatusDetails): StatusObject {
  return { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason, ...(details ? { details } : {}), code };
}

export function successStatus(details: StatusDetails): StatusObject {
  return { kind: "Status", apiVersion: "v1", metadata: {}, status: "Success", details, code: 200 };
}

/** Reason for an arbitrary injected HTTP code (what kube-apiserver would say for it). */
export function reasonForCode(code: number): string {
  for (const [reason, c] of Object.entries(REASON_CODES)) if (c === code) return reason;
  if (code === 429) return "TooManyRequests";
  if (code === 504) return "Timeout";
  return code >= 500 ? "InternalError" : "BadRequest";
}

/** Thrown inside the stand-in; the HTTP layer turns it into a `Status` answer. */
export class KubeApiError extends Error {
  readonly code: number;
  readonly reason: StatusReason;
  readonly details: StatusDetails | undefined;

  constructor(reason: StatusReason, message: string, details?: StatusDetails) {
    super(message);
    this.name = "KubeApiError";
    this.reason = reason;
    this.code = REASON_CODES[reason];
    this.details = details;
  }

  toStatus(): StatusObject {
    return failureStatus(this.code, this.reason, this.message, this.details);
  }
}
