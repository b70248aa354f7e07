// The admission webhook's HTTPS listener (--webhook-port): POST an AdmissionReview to
// /validate-ingress, get one back. The review logic is passed in (cmd wires src/control's
// validator), so admin stays free of build/control. The certificate and key are read from files
// and re-read when they change (cert-manager rotates them in place).
import { readFileSync, statSync } from "node:fs";
import { createServer, type Server } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "../util/index.js";

export const WEBHOOK_PATH = "/validate-ingress";
/** kube-apiserver sends at most ~3 MiB objects; a review is a little more. */
const maxBody = 4 * 1024 * 1024;

export class WebhookError extends Error {
  readonly code = "PPI_ERR_WEBHOOK";
}

export interface WebhookServerOptions {
  readonly certFile: string;
  readonly keyFile: string;
  /** AdmissionReview in, AdmissionReview out; throws for a body that is not a review (answered 400). */
  readonly review: (body: unknown) => unknown;
  readonly logger: Logger;
  /** How often the certificate files are checked for a change (ms); default 10 s. */
  readonly reloadIntervalMs?: number;
}

export class WebhookServer {
  readonly #server: Server;
  readonly #options: WebhookServerOptions;
  readonly #log: Logger;
  #stamp: string;
  #timer: ReturnType<typeof setInterval> | null = null;

  constructor(options: WebhookServerOptions) {
    this.#options = options;
    this.#log = options.logger;
    const { cert, key, stamp } = readPair(options.certFile, options.keyFile);
    this.#stamp = stamp;
    this.#server = createServer({ cert, key, minVersion: "TLSv1.2" }, (req, res) => this.#handle(req, res));
    this.#server.headersTimeout = 10_000;
    this.#server.requestTimeout = 15_000;
    this.#server.keepAliveTimeout = 30_000;
  }

  listen(port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#server.once("error", reject);
      this.#server.listen(port, host, () => {
        this.#server.off("error", reject);
        this.#timer = setInterval(() => this.#reload(), this.#options.reloadIntervalMs ?? 10_000);
        this.#timer.unref();
        const address = this.#server.address();
        resolve(typeof address === "object" && address !== null ? address.port : port);
      });
    });
  }

  close(): Promise<void> {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    return new Promise((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }

  #reload(): void {
    try {
      const pair = readPair(this.#options.certFile, this.#options.keyFile);
      if (pair.stamp === this.#stamp) return;
      this.#server.setSecureContext({ cert: pair.cert, key: pair.key, minVersion: "TLSv1.2" });
      this.#stamp = pair.stamp;
      this.#log.info("webhook certificate reloaded");
    } catch (err) {
      this.#log.error({ err }, "webhook certificate reload failed; the previous one stays in use");
    }
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? "/").split("?", 1)[0];
    if (path !== WEBHOOK_PATH) return send(res, 404, { error: "not found" });
    if (req.method !== "POST") return send(res, 405, { error: "method not allowed" });
    if (!/^application\/json\b/i.test(req.headers["content-type"] ?? "")) return send(res, 415, { error: "content-type must be application/json" });
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBody) {
        send(res, 413, { error: "request too large" });
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => {
      if (res.headersSent) return;
      let body: unknown;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      } catch {
        return send(res, 400, { error: "body is not JSON" });
      }
      try {
        send(res, 200, this.#options.review(body));
      } catch (err) {
        this.#log.warn({ err }, "webhook: bad AdmissionReview");
        send(res, 400, { error: err instanceof Error ? err.message : "invalid AdmissionReview" });
      }
    });
  }
}

function readPair(certFile: string, keyFile: string): { cert: Buffer; key: Buffer; stamp: string } {
  try {
    const stamp = [certFile, keyFile].map((f) => `${statSync(f).mtimeMs}:${statSync(f).size}`).join("|");
    return { cert: readFileSync(certFile), key: readFileSync(keyFile), stamp };
  } catch (err) {
    throw new WebhookError(`cannot read the webhook certificate: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}
