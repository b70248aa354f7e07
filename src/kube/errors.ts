// Typed errors of the Kubernetes source, each with a stable `PPI_ERR_*` code.

export class KubeError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** No usable kubeconfig (flag file unreadable, nothing found, or no current cluster). */
export class KubeConfigError extends KubeError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("PPI_ERR_KUBECONFIG", message, options);
  }
}

/** The source or supervisor was closed before it finished starting. */
export class KubeClosedError extends KubeError {
  constructor(message: string) {
    super("PPI_ERR_KUBE_CLOSED", message);
  }
}

/** A watch stayed silent longer than its timeout; the supervisor relists. */
export class WatchStaleError extends KubeError {
  constructor(message: string) {
    super("PPI_ERR_KUBE_WATCH_STALE", message);
  }
}

/** A list or watch answered with an error: an HTTP status other than 200, or a watch ERROR event. */
export class KubeApiError extends KubeError {
  /** HTTP status (the Status object's `code`), when known; 410 means the resourceVersion is gone. */
  readonly statusCode: number | undefined;
  constructor(message: string, statusCode?: number) {
    super("PPI_ERR_KUBE_API", message);
    this.statusCode = statusCode;
  }

  /** From an error answer: its status and the Status object's message, if the body is one. */
  static fromResponse(what: string, status: number, body: string): KubeApiError {
    let message = "";
    try {
      const parsed: unknown = JSON.parse(body);
      if (parsed !== null && typeof parsed === "object" && "message" in parsed && typeof parsed.message === "string") message = parsed.message;
    } catch {
      message = body.slice(0, 200);
    }
    return new KubeApiError(`${what}: HTTP ${status}${message === "" ? "" : `: ${message}`}`, status);
  }

  /** From a watch ERROR event's Status object. */
  static fromStatus(what: string, status: unknown): KubeApiError {
    const record = status !== null && typeof status === "object" ? (status as Record<string, unknown>) : {};
    const code = typeof record["code"] === "number" ? record["code"] : undefined;
    const message = typeof record["message"] === "string" ? record["message"] : "watch ERROR event";
    return new KubeApiError(`${what}: ${code === undefined ? "" : `${code} `}${message}`, code);
  }
}

/** Describes any thrown value in one line (for logs and diagnostics). */
export function describeError(err: unknown): string {
  if (err instanceof Error) {
    const status = statusOf(err);
    const code = "code" in err && (typeof err.code === "string" || typeof err.code === "number") ? String(err.code) : undefined;
    const parts = [err.name !== "Error" ? `${err.name}: ${err.message}` : err.message];
    if (status !== undefined) parts.push(`status ${status}`);
    else if (code !== undefined && !err.message.includes(code)) parts.push(code);
    const cause = err.cause;
    if (cause instanceof Error && cause.message !== err.message) parts.push(`cause: ${cause.message}`);
    return parts.join(", ");
  }
  return String(err);
}

/** HTTP status of a client-node error (`statusCode` of watch errors, `code` of ApiException), if any. */
export function statusOf(err: unknown): number | undefined {
  if (err === null || typeof err !== "object") return undefined;
  if ("statusCode" in err && typeof err.statusCode === "number") return err.statusCode;
  if ("code" in err && typeof err.code === "number") return err.code;
  return undefined;
}
