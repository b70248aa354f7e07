// Validating admission webhook: src/control's per-Ingress validation (table), and AdmissionReviews
// for good and bad Ingresses through real HTTPS — the in-process listener and the controller
// binary with --webhook-* flags — with a certificate made by the openssl CLI.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebhookServer, WEBHOOK_PATH } from "../../src/admin/index.js";
import { reviewIngressAdmission, validateIngressObject, AdmissionReviewError } from "../../src/control/index.js";
import { freePort, startController, type RunningController } from "../support/controller.js";
import { waitFor } from "../support/wait.js";

const options = { ingressClass: "proxypass" };

function ingress(annotations: Record<string, string> = {}, spec: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "Ingress",
    metadata: { name: "web", namespace: "shop", annotations },
    spec: {
      ingressClassName: "proxypass",
      rules: [{ host: "shop.example.com", http: { paths: [{ path: "/", pathType: "Prefix", backend: { service: { name: "web", port: { number: 80 } } } }] } }],
      ...spec,
    },
  };
}

function review(object: unknown, operation = "CREATE", uid = "3f1c-uid"): Record<string, unknown> {
  return {
    apiVersion: "admission.k8s.io/v1",
    kind: "AdmissionReview",
    request: { uid, kind: { group: "networking.k8s.io", version: "v1", kind: "Ingress" }, resource: { group: "networking.k8s.io", version: "v1", resource: "ingresses" }, operation, namespace: "shop", object },
  };
}

describe("validateIngressObject", () => {
  it.each([
    { name: "valid annotations are allowed", object: ingress({ "proxypass.io/lbmethod": "bybusyness", "proxypass.io/sticky-session": "ROUTEID" }), allowed: true, ours: true, problems: [] as RegExp[] },
    { name: "an invalid lbmethod is denied naming key and value", object: ingress({ "proxypass.io/lbmethod": "roundrobin" }), allowed: false, ours: true, problems: [/proxypass\.io\/lbmethod/] },
    {
      name: "every problem is listed",
      object: ingress({ "proxypass.io/lbmethod": "x", "proxypass.io/connect-timeout": "forever" }, { rules: [{ host: "Bad_Host!", http: { paths: [{ path: "no-slash", pathType: "Prefix", backend: { service: { name: "web", port: { number: 80 } } } }] } }] }),
      allowed: false,
      ours: true,
      problems: [/connect-timeout/, /lbmethod/, /spec\.rules\[0\]\.host "Bad_Host!"/, /spec\.rules\[0\]\.http\.paths\[0\]: path "no-slash" must start with/],
    },
    { name: "a resource backend is denied", object: ingress({}, { rules: [{ http: { paths: [{ path: "/", pathType: "Prefix", backend: { resource: { kind: "Bucket", name: "b" } } }] } }] }), allowed: false, ours: true, problems: [/resource backends/] },
    { name: "a bad TLS host is denied", object: ingress({}, { tls: [{ hosts: ["*.*.example.com"], secretName: "s" }] }), allowed: false, ours: true, problems: [/spec\.tls\[0\]\.hosts\[0\]/] },
    { name: "another class is not ours and is allowed unchecked", object: ingress({ "proxypass.io/lbmethod": "x" }, { ingressClassName: "nginx" }), allowed: true, ours: false, problems: [] },
    { name: "the legacy class annotation makes it ours", object: ingress({ "kubernetes.io/ingress.class": "proxypass", "proxypass.io/lbmethod": "x" }, { ingressClassName: undefined }), allowed: false, ours: true, problems: [/lbmethod/] },
    { name: "no class at all is not ours unless we are the default class", object: ingress({ "proxypass.io/lbmethod": "x" }, { ingressClassName: undefined }), allowed: true, ours: false, problems: [] },
  ])("$name", ({ object, allowed, ours, problems }) => {
    const v = validateIngressObject(object, options);
    expect(v.ours).toBe(ours);
    expect(v.allowed).toBe(allowed);
    expect(v.problems).toHaveLength(problems.length);
    problems.forEach((p, i) => expect(v.problems[i]).toMatch(p));
  });

  it("an unknown proxypass.io key is a warning, not a denial", () => {
    const v = validateIngressObject(ingress({ "proxypass.io/no-such-key": "1" }), options);
    expect(v.allowed).toBe(true);
    expect(v.warnings.join("\n")).toMatch(/no-such-key is unknown/);
  });

  it("classless Ingresses are ours when our class is the default", () => {
    const v = validateIngressObject(ingress({ "proxypass.io/lbmethod": "x" }, { ingressClassName: undefined }), { ...options, classlessIsOurs: () => true });
    expect(v).toMatchObject({ ours: true, allowed: false });
  });

  it("a malformed Ingress of our class is denied with the schema's reasons", () => {
    const v = validateIngressObject(ingress({}, { rules: [{ http: { paths: [{ path: "/", pathType: "Sometimes", backend: { service: { name: "web", port: { number: 80 } } } }] } }] }), options);
    expect(v.allowed).toBe(false);
    expect(v.problems.join("\n")).toMatch(/pathType/);
  });

  it("reviews DELETE and other kinds as allowed; rejects a body that is not an AdmissionReview", () => {
    expect(reviewIngressAdmission(review(null, "DELETE"), options).response.allowed).toBe(true);
    const other = { ...review({}), request: { uid: "u", kind: { group: "", version: "v1", kind: "Service" }, operation: "CREATE", object: {} } };
    expect(reviewIngressAdmission(other, options).response.allowed).toBe(true);
    expect(() => reviewIngressAdmission({ hello: 1 }, options)).toThrow(AdmissionReviewError);
  });

  it("1,000 reviews in a row are each judged on their own Ingress (no state carried from one to the next)", () => {
    // Speed is a benchmark's business, not a test's; this checks that alternating good and bad
    // Ingresses get alternating answers, each echoing its own uid.
    for (let i = 0; i < 1000; i++) {
      const out = reviewIngressAdmission(review(ingress({ "proxypass.io/lbmethod": i % 2 === 0 ? "bybusyness" : "bad" }), "CREATE", `u${i}`), options) as { response: { uid: string; allowed: boolean } };
      expect(out.response.uid).toBe(`u${i}`);
      expect(out.response.allowed).toBe(i % 2 === 0);
    }
  });
});

interface Pki {
  readonly dir: string;
  readonly ca: Buffer;
  readonly cert: string;
  readonly key: string;
}

/** A CA and a server certificate for localhost/127.0.0.1, made with the openssl CLI. */
function makePki(): Pki {
  const dir = mkdtempSync(join(tmpdir(), "ppi-webhook-"));
  const p = (f: string): string => join(dir, f);
  const ssl = (...args: string[]): void => void execFileSync("openssl", args, { stdio: "pipe" });
  ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=webhook-test-ca", "-keyout", p("ca.key"), "-out", p("ca.crt"));
  ssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=proxypass-ingress-webhook", "-keyout", p("tls.key"), "-out", p("tls.csr"));
  writeFileSync(p("san.ext"), "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
  ssl("x509", "-req", "-in", p("tls.csr"), "-CA", p("ca.crt"), "-CAkey", p("ca.key"), "-CAcreateserial", "-days", "1", "-extfile", p("san.ext"), "-out", p("tls.crt"));
  return { dir, ca: readFileSync(p("ca.crt")), cert: p("tls.crt"), key: p("tls.key") };
}

async function post(port: number, ca: Buffer, body: unknown, path = WEBHOOK_PATH): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: "127.0.0.1", port, path, method: "POST", ca, servername: "localhost", headers: { "content-type": "application/json" } }, (res) => {
      let text = "";
      res.on("data", (d: Buffer) => (text += d.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as Record<string, unknown> }));
    });
    req.on("error", reject);
    req.end(JSON.stringify(body));
  });
}

type ReviewOut = { response: { uid: string; allowed: boolean; status?: { code: number; message: string }; warnings?: string[] } };

describe("webhook over HTTPS", () => {
  let pki: Pki;
  let server: WebhookServer;
  let port = 0;
  let ctl: RunningController | null = null;

  beforeAll(async () => {
    pki = makePki();
    server = new WebhookServer({ certFile: pki.cert, keyFile: pki.key, logger: pino({ level: "silent" }), review: (b) => reviewIngressAdmission(b, options) });
    port = await server.listen(0, "127.0.0.1");
  }, 30_000);

  afterAll(async () => {
    await server.close();
    if (ctl !== null && ctl.child.exitCode === null) ctl.child.kill("SIGKILL");
    rmSync(pki.dir, { recursive: true, force: true });
  });

  it("allows a good Ingress, echoing the request uid", async () => {
    const r = await post(port, pki.ca, review(ingress({ "proxypass.io/lbmethod": "bybusyness" }), "CREATE", "good-uid"));
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", response: { uid: "good-uid", allowed: true } });
  });

  it("denies a bad Ingress with a 400 status listing each problem", async () => {
    const bad = ingress({ "proxypass.io/lbmethod": "roundrobin", "proxypass.io/retry": "soon" });
    const r = await post(port, pki.ca, review(bad, "UPDATE", "bad-uid"));
    const out = r.json as unknown as ReviewOut;
    expect(out.response).toMatchObject({ uid: "bad-uid", allowed: false, status: { code: 400 } });
    expect(out.response.status?.message).toMatch(/^proxypass-ingress denied this Ingress \(2 problems\):/);
    expect(out.response.status?.message).toMatch(/- .*proxypass\.io\/lbmethod/);
    expect(out.response.status?.message).toMatch(/- .*proxypass\.io\/retry/);
  });

  it("returns warnings for unknown keys on an allowed Ingress", async () => {
    const r = await post(port, pki.ca, review(ingress({ "proxypass.io/typo": "1" })));
    const out = r.json as unknown as ReviewOut;
    expect(out.response.allowed).toBe(true);
    expect(out.response.warnings?.join("\n")).toMatch(/typo/);
  });

  it.each([
    { name: "wrong path -> 404", path: "/other", body: review(ingress()), status: 404 },
    { name: "not an AdmissionReview -> 400", path: WEBHOOK_PATH, body: { hello: "world" }, status: 400 },
  ])("$name", async ({ path, body, status }) => {
    expect((await post(port, pki.ca, body, path)).status).toBe(status);
  });

  it("refuses plain HTTP clients and untrusted CAs (TLS only)", async () => {
    const other = makePki();
    try {
      await expect(post(port, other.ca, review(ingress()))).rejects.toThrow(/self-signed|unable to verify|certificate/i);
    } finally {
      rmSync(other.dir, { recursive: true, force: true });
    }
  });

  it("the controller binary serves it with --webhook-port/--webhook-cert-file/--webhook-key-file", async () => {
    const webhookPort = await freePort();
    const manifests = mkdtempSync(join(tmpdir(), "ppi-webhook-manifests-"));
    try {
      ctl = await startController(["--manifests", manifests, "--workers", "1", "--webhook-port", String(webhookPort), "--webhook-cert-file", pki.cert, "--webhook-key-file", pki.key, "--shutdown-delay", "0", "--shutdown-grace", "1"]);
      const bad = await waitFor(async () => (await post(webhookPort, pki.ca, review(ingress({ "proxypass.io/lbmethod": "nope" }))).catch(() => undefined)) ?? undefined, { what: "webhook listening" });
      expect((bad.json as unknown as ReviewOut).response.allowed).toBe(false);
      const good = await post(webhookPort, pki.ca, review(ingress()));
      expect((good.json as unknown as ReviewOut).response.allowed).toBe(true);
      ctl.child.kill("SIGTERM");
      expect(await ctl.exited).toBe(0);
    } finally {
      rmSync(manifests, { recursive: true, force: true });
    }
  }, 30_000);
});
