// gRPC through the proxy with @grpc/grpc-js as client and server: h2c prior knowledge on the
// proxy's plain port, backend-protocol GRPC (HTTP/2 cleartext to the member). Unary,
// server-streaming, client-streaming, bidi, status passthrough, no member -> UNAVAILABLE,
// deadline -> DEADLINE_EXCEEDED.
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { connect as connectH2 } from "node:http2";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProxyServer } from "../../src/dataplane/index.js";
import { endpointTable, member, route, routeTable, silentLogger, vhost } from "./helpers.js";

const B = "default/grpc:50051";
const EMPTY = "default/none:50051";
type Msg = { text: string; n: number };
type Call = (...args: unknown[]) => unknown;
type Client = grpc.Client & { Unary: Call; ServerStream: Call; ClientStream: Call; Bidi: Call };

const definition = grpc.loadPackageDefinition(protoLoader.loadSync(fileURLToPath(new URL("../fixtures/grpc/echo.proto", import.meta.url)), { defaults: true })) as unknown as {
  echo: { Echo: grpc.ServiceClientConstructor };
};

let server: grpc.Server;
let proxy: ProxyServer;
let port: number;

beforeAll(async () => {
  server = new grpc.Server();
  server.addService(definition.echo.Echo.service, {
    Unary: (call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) => {
      if (call.request.text === "fail") cb({ code: grpc.status.PERMISSION_DENIED, details: "not you" });
      else if (call.request.text === "slow") setTimeout(() => cb(null, call.request), 3_000);
      else cb(null, { text: `echo:${call.request.text}`, n: call.request.n + 1 });
    },
    ServerStream: (call: grpc.ServerWritableStream<Msg, Msg>) => {
      for (let i = 0; i < call.request.n; i++) call.write({ text: `${call.request.text}${i}`, n: i });
      call.end();
    },
    ClientStream: (call: grpc.ServerReadableStream<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) => {
      const parts: string[] = [];
      call.on("data", (m: Msg) => parts.push(m.text));
      call.on("end", () => cb(null, { text: parts.join("+"), n: parts.length }));
    },
    Bidi: (call: grpc.ServerDuplexStream<Msg, Msg>) => {
      call.on("data", (m: Msg) => call.write({ text: `re:${m.text}`, n: m.n }));
      call.on("end", () => call.end());
    },
  });
  const memberPort = await new Promise<number>((resolve, reject) => server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  proxy = new ProxyServer({ logger: silentLogger });
  port = (await proxy.listen({ port: 0, host: "127.0.0.1" })).port;
  await proxy.applyRoutes(
    routeTable([vhost("grpc.example.com", [route("/", "Prefix", B)]), vhost("none.example.com", [route("/", "Prefix", EMPTY)])], null, { [B]: { protocol: "grpc" }, [EMPTY]: { protocol: "grpc" } }),
    endpointTable({ [B]: [member(memberPort)], [EMPTY]: [] }),
  );
});

afterAll(async () => {
  server.forceShutdown();
  await proxy.close(1_000);
});

function client(host = "grpc.example.com"): Client {
  // h2c prior knowledge to the proxy's plain port; :authority names the virtual host.
  return new definition.echo.Echo(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), { "grpc.default_authority": host }) as unknown as Client;
}

function unary(c: Client, req: Msg, deadlineMs = 10_000): Promise<Msg> {
  return new Promise((resolve, reject) => c.Unary(req, { deadline: Date.now() + deadlineMs }, (err: grpc.ServiceError | null, res: Msg) => (err ? reject(err) : resolve(res))));
}

describe("gRPC through the proxy (h2c frontend, GRPC member)", () => {
  it("unary", async () => {
    const c = client();
    expect(await unary(c, { text: "hi", n: 1 })).toEqual({ text: "echo:hi", n: 2 });
    c.close();
  });

  it("server streaming", async () => {
    const c = client();
    const got: Msg[] = [];
    await new Promise<void>((resolve, reject) => {
      const call = c.ServerStream({ text: "s", n: 5 }) as grpc.ClientReadableStream<Msg>;
      call.on("data", (m: Msg) => got.push(m));
      call.on("error", reject);
      call.on("end", () => resolve());
    });
    expect(got.map((m) => m.text)).toEqual(["s0", "s1", "s2", "s3", "s4"]);
    c.close();
  });

  it("client streaming", async () => {
    const c = client();
    const res = await new Promise<Msg>((resolve, reject) => {
      const call = c.ClientStream((err: grpc.ServiceError | null, r: Msg) => (err ? reject(err) : resolve(r))) as grpc.ClientWritableStream<Msg>;
      for (const t of ["a", "b", "c"]) call.write({ text: t, n: 0 });
      call.end();
    });
    expect(res).toEqual({ text: "a+b+c", n: 3 });
    c.close();
  });

  it("bidi streaming: each message answered before the next is sent", async () => {
    const c = client();
    const call = c.Bidi() as grpc.ClientDuplexStream<Msg, Msg>;
    const got: string[] = [];
    for (let i = 0; i < 3; i++) {
      const next = new Promise<Msg>((resolve) => call.once("data", resolve));
      call.write({ text: `m${i}`, n: i });
      got.push((await next).text);
    }
    call.end();
    await new Promise((resolve) => call.on("status", resolve));
    expect(got).toEqual(["re:m0", "re:m1", "re:m2"]);
    c.close();
  });

  it("a member's error status and message pass through (trailers)", async () => {
    const c = client();
    await expect(unary(c, { text: "fail", n: 0 })).rejects.toMatchObject({ code: grpc.status.PERMISSION_DENIED, details: "not you" });
    c.close();
  });

  it("no member: UNAVAILABLE from the proxy, not an HTML/text error", async () => {
    const c = client("none.example.com");
    await expect(unary(c, { text: "x", n: 0 })).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
    c.close();
  });

  it("on the wire: the proxy's own error is HTTP 200 with grpc-status 14 and grpc-message trailers (a text 503 is not sent)", async () => {
    const session = connectH2(`http://127.0.0.1:${port}`);
    try {
      const stream = session.request({ ":method": "POST", ":path": "/echo.Echo/Unary", ":authority": "none.example.com", "content-type": "application/grpc", te: "trailers" });
      stream.end(Buffer.from([0, 0, 0, 0, 0]));
      const result = await new Promise<{ status: unknown; trailers: Record<string, unknown> }>((resolve, reject) => {
        let status: unknown;
        stream.on("response", (h) => (status = h[":status"]));
        stream.on("trailers", (t) => resolve({ status, trailers: { ...t } }));
        stream.on("error", reject);
        stream.resume();
      });
      expect(result.status).toBe(200);
      expect(result.trailers["grpc-status"]).toBe("14");
      expect(typeof result.trailers["grpc-message"]).toBe("string");
    } finally {
      session.close();
    }
  });

  it("grpc-timeout caps the read timeout: DEADLINE_EXCEEDED", async () => {
    const c = client();
    await expect(unary(c, { text: "slow", n: 0 }, 300)).rejects.toMatchObject({ code: grpc.status.DEADLINE_EXCEEDED });
    c.close();
  });
});
