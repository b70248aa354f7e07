// Real Apache Tomcat 10 (Debian's `tomcat10` package) for AJP tests: each instance gets its own
// CATALINA_BASE in a temp directory (server.xml with only an AJP connector on 127.0.0.1, an Engine
// jvmRoute, optional secret) and a small JSP app compiled by Jasper at runtime:
//   /echo.jsp     request data as `key=value` lines (method, URI, query, headers, remote address and
//                 port, isSecure, scheme, TLS attributes, the request body's length and SHA-256)
//   /session.jsp  creates/uses a session (a counter), prints the session id (`id.jvmRoute`)
//   /big.jsp?n=N  streams N bytes ("0123456789" repeated), flushing as it goes
//   /slow.jsp?ms= sleeps, then answers (for "member stopped mid-request")
//   /headers.jsp  sets many response headers (coded and not), status from ?status=
//   /hello.txt    a small static file (DefaultServlet; the AJP benchmark's request)
// A machine without Tomcat makes `startTomcat` throw with what to install: the tests fail, never skip.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, copyFileSync } from "node:fs";
import { createServer, connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const CATALINA_HOME = "/usr/share/tomcat10";
const ECJ = "/usr/share/java/eclipse-jdt-core.jar";

export interface TomcatOptions {
  readonly jvmRoute: string;
  /** The connector's secret with secretRequired="true"; null = secretRequired="false" (no secret). */
  readonly secret: string | null;
  /** AJP packetSize (default 8192). */
  readonly packetSize?: number;
  /** Also an HTTP/1.1 connector on 127.0.0.1 (the benchmark's reference row); default false. */
  readonly httpConnector?: boolean;
  /** JVM tuning flags instead of the tests' small-heap, fast-start ones (the benchmark's). */
  readonly jvmArgs?: ReadonlyArray<string>;
  /** The JVM in its own process group (a benchmark's watchdog kills the group); default false. */
  readonly detached?: boolean;
}

export interface Tomcat {
  readonly jvmRoute: string;
  readonly port: number;
  /** The HTTP connector's port; null without `httpConnector`. */
  readonly httpPort: number | null;
  readonly base: string;
  /** The JVM process. */
  readonly process: ChildProcess;
  /** SIGKILL (a crash: connections reset, nothing answered). */
  kill(): Promise<void>;
  /** Stops the JVM and removes CATALINA_BASE. */
  stop(): Promise<void>;
}

/** A free loopback port (bound, then released; checked again by the connector's own bind). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function javaBinary(): string {
  for (const candidate of ["/usr/lib/jvm/default-java/bin/java", "/usr/bin/java"]) if (existsSync(candidate)) return candidate;
  return "java";
}

/** Why Tomcat cannot run here, or null. */
export function tomcatMissing(): string | null {
  if (!existsSync(join(CATALINA_HOME, "bin", "bootstrap.jar"))) return `Tomcat 10 is not installed (${CATALINA_HOME}/bin/bootstrap.jar missing): apt-get install tomcat10 (npm test's pretest does it when root on Debian)`;
  if (!existsSync(ECJ)) return `${ECJ} (Jasper's JSP compiler) is missing: apt-get install libeclipse-jdt-core-java`;
  return null;
}

const serverXml = (port: number, httpPort: number | null, o: TomcatOptions): string => `<?xml version="1.0" encoding="UTF-8"?>
<Server port="-1" shutdown="SHUTDOWN">
  <Service name="Catalina">
    <Connector protocol="AJP/1.3" address="127.0.0.1" port="${port}" redirectPort="8443"
               secretRequired="${o.secret === null ? "false" : "true"}"${o.secret === null ? "" : ` secret="${o.secret}"`}
               packetSize="${o.packetSize ?? 8192}" maxParameterCount="1000" connectionTimeout="60000" />
${httpPort === null ? "" : `    <Connector protocol="HTTP/1.1" address="127.0.0.1" port="${httpPort}" maxKeepAliveRequests="-1" connectionTimeout="60000" />\n`}    <Engine name="Catalina" defaultHost="localhost" jvmRoute="${o.jvmRoute}">
      <Host name="localhost" appBase="webapps" unpackWARs="false" autoDeploy="false" />
    </Engine>
  </Service>
</Server>
`;

const echoJsp = `<%@ page session="false" contentType="text/plain; charset=UTF-8" trimDirectiveWhitespaces="true" import="java.util.*,java.io.*,java.security.MessageDigest" %><%
out.println("method=" + request.getMethod());
out.println("uri=" + request.getRequestURI());
out.println("query=" + request.getQueryString());
out.println("protocol=" + request.getProtocol());
out.println("remoteAddr=" + request.getRemoteAddr());
out.println("remoteHost=" + request.getRemoteHost());
out.println("remotePort=" + request.getRemotePort());
out.println("serverName=" + request.getServerName());
out.println("serverPort=" + request.getServerPort());
out.println("secure=" + request.isSecure());
out.println("scheme=" + request.getScheme());
out.println("contentLength=" + request.getContentLengthLong());
out.println("contentType=" + request.getContentType());
out.println("remoteUser=" + request.getRemoteUser());
out.println("authType=" + request.getAuthType());
for (Enumeration<String> names = request.getHeaderNames(); names.hasMoreElements();) {
  String name = names.nextElement();
  for (Enumeration<String> values = request.getHeaders(name); values.hasMoreElements();) out.println("h." + name.toLowerCase() + "=" + values.nextElement());
}
for (Enumeration<String> names = request.getAttributeNames(); names.hasMoreElements();) {
  String name = names.nextElement();
  Object v = request.getAttribute(name);
  if (v instanceof java.security.cert.X509Certificate[]) v = "certs:" + ((java.security.cert.X509Certificate[]) v)[0].getSubjectX500Principal().getName();
  out.println("a." + name + "=" + v);
}
for (String name : new String[] {"jakarta.servlet.request.cipher_suite", "jakarta.servlet.request.key_size", "jakarta.servlet.request.ssl_session_id", "jakarta.servlet.request.secure_protocol", "jakarta.servlet.request.X509Certificate", "AJP_REMOTE_PORT", "AJP_LOCAL_ADDR", "AJP_SSL_PROTOCOL", "injected"}) {
  Object v = request.getAttribute(name);
  if (v instanceof java.security.cert.X509Certificate[]) v = "certs:" + ((java.security.cert.X509Certificate[]) v)[0].getSubjectX500Principal().getName();
  out.println("attr." + name + "=" + v);
}
InputStream in = request.getInputStream();
MessageDigest md = MessageDigest.getInstance("SHA-256");
byte[] buf = new byte[16384];
long total = 0;
for (int n; (n = in.read(buf)) != -1;) { md.update(buf, 0, n); total += n; }
StringBuilder hex = new StringBuilder();
for (byte b : md.digest()) hex.append(String.format("%02x", b));
out.println("bodyLength=" + total);
out.println("bodySha256=" + hex);
out.println("jvmRoute=${"$"}{JVM_ROUTE}");
%>`;

const sessionJsp = `<%@ page contentType="text/plain; charset=UTF-8" trimDirectiveWhitespaces="true" %><%
Integer n = (Integer) session.getAttribute("n");
n = n == null ? 1 : n + 1;
session.setAttribute("n", n);
out.println("session=" + session.getId());
out.println("count=" + n);
out.println("jvmRoute=${"$"}{JVM_ROUTE}");
%>`;

const bigJsp = `<%@ page session="false" contentType="application/octet-stream" trimDirectiveWhitespaces="true" buffer="none" %><%
long n = Long.parseLong(request.getParameter("n"));
response.setContentLengthLong(n);
java.io.OutputStream os = response.getOutputStream();
byte[] chunk = new byte[65530];
for (int i = 0; i < chunk.length; i++) chunk[i] = (byte) ('0' + (i % 10));
long sent = 0;
while (sent < n) { int len = (int) Math.min(chunk.length, n - sent); os.write(chunk, 0, len); sent += len; }
os.flush();
%>`;

const slowJsp = `<%@ page session="false" contentType="text/plain; charset=UTF-8" trimDirectiveWhitespaces="true" %><%
Thread.sleep(Long.parseLong(request.getParameter("ms")));
out.println("slept jvmRoute=${"$"}{JVM_ROUTE}");
%>`;

const headersJsp = `<%@ page session="false" contentType="text/html; charset=UTF-8" trimDirectiveWhitespaces="true" %><%
String status = request.getParameter("status");
if (status != null) response.setStatus(Integer.parseInt(status));
response.setHeader("Content-Language", "de");
response.setHeader("Last-Modified", "Wed, 21 Oct 2015 07:28:00 GMT");
response.setHeader("Location", "/elsewhere");
response.addHeader("Set-Cookie", "a=1; Path=/");
response.addHeader("Set-Cookie", "b=2; Path=/");
response.setHeader("WWW-Authenticate", "Basic realm=\\"x\\"");
response.setHeader("X-Custom", "custom value");
response.setHeader("Servlet-Engine", "test");
out.print("headers jvmRoute=${"$"}{JVM_ROUTE}");
%>`;

function writeApp(base: string, jvmRoute: string): void {
  const root = join(base, "webapps", "ROOT");
  mkdirSync(join(root, "WEB-INF"), { recursive: true });
  const files: Record<string, string> = { "echo.jsp": echoJsp, "session.jsp": sessionJsp, "big.jsp": bigJsp, "slow.jsp": slowJsp, "headers.jsp": headersJsp };
  for (const [name, text] of Object.entries(files)) writeFileSync(join(root, name), text.replaceAll("${JVM_ROUTE}", jvmRoute));
  writeFileSync(join(root, "hello.txt"), `hello from Tomcat ${jvmRoute}\n`);
  writeFileSync(join(root, "index.jsp"), `<%@ page session="false" contentType="text/plain" %>root ${jvmRoute}`);
  writeFileSync(
    join(root, "WEB-INF", "web.xml"),
    `<?xml version="1.0" encoding="UTF-8"?>\n<web-app xmlns="https://jakarta.ee/xml/ns/jakartaee" version="6.0" metadata-complete="true"><session-config><session-timeout>5</session-timeout></session-config></web-app>\n`,
  );
}

/** An AJP CPing on `port`; resolves true on CPong. */
export function cping(port: number, timeoutMs = 2_000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: "127.0.0.1", port });
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      s.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    s.on("error", () => done(false));
    s.on("connect", () => s.write(Buffer.from([0x12, 0x34, 0x00, 0x01, 0x0a])));
    s.on("data", (d: Buffer) => done(d.length >= 5 && d[0] === 0x41 && d[1] === 0x42 && d[4] === 0x09));
  });
}

async function tryStart(options: TomcatOptions): Promise<Tomcat> {
  const missing = tomcatMissing();
  if (missing !== null) throw new Error(missing);
  const base = mkdtempSync(join(tmpdir(), `tomcat-${options.jvmRoute}-`));
  for (const dir of ["conf", "logs", "temp", "work", "lib", "webapps"]) mkdirSync(join(base, dir), { recursive: true });
  const port = await freePort();
  const httpPort = options.httpConnector === true ? await freePort() : null;
  writeFileSync(join(base, "conf", "server.xml"), serverXml(port, httpPort, options));
  // JSP servlet and mappings (Debian's global web.xml); Jasper compiles with ECJ from lib/.
  copyFileSync("/etc/tomcat10/web.xml", join(base, "conf", "web.xml"));
  writeFileSync(join(base, "conf", "logging.properties"), "handlers = java.util.logging.ConsoleHandler\n.level = WARNING\njava.util.logging.ConsoleHandler.level = WARNING\n");
  symlinkSync(ECJ, join(base, "lib", "ecj.jar"));
  writeApp(base, options.jvmRoute);
  const args = [
    ...(options.jvmArgs ?? ["-Xss512k", "-Xmx192m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"]),
    "-Djava.awt.headless=true",
    `-Dcatalina.home=${CATALINA_HOME}`,
    `-Dcatalina.base=${base}`,
    `-Djava.io.tmpdir=${join(base, "temp")}`,
    `-Djava.util.logging.config.file=${join(base, "conf", "logging.properties")}`,
    "-Djava.util.logging.manager=org.apache.juli.ClassLoaderLogManager",
    "-cp",
    `${CATALINA_HOME}/bin/bootstrap.jar:${CATALINA_HOME}/bin/tomcat-juli.jar`,
    "org.apache.catalina.startup.Bootstrap",
    "start",
  ];
  const child: ChildProcess = spawn(javaBinary(), args, { stdio: ["ignore", "pipe", "pipe"], cwd: base, detached: options.detached === true });
  let output = "";
  const keep = (d: Buffer): void => {
    output = (output + d.toString()).slice(-8_000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  let exited: number | null = null;
  const exit = new Promise<void>((resolve) => child.once("exit", (code) => ((exited = code ?? -1), resolve())));
  const kill = async (): Promise<void> => {
    if (exited === null) child.kill("SIGKILL");
    await exit;
  };
  const stop = async (): Promise<void> => {
    await kill();
    rmSync(base, { recursive: true, force: true });
  };
  const deadline = Date.now() + 90_000;
  while (!(await cping(port, 1_000))) {
    if (exited !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`Tomcat (jvmRoute ${options.jvmRoute}) did not start its AJP connector on 127.0.0.1:${port}${exited !== null ? ` (JVM exited with ${String(exited)})` : " within 90 s"}:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return { jvmRoute: options.jvmRoute, port, httpPort, base, process: child, kill, stop };
}

/** Starts a Tomcat with its AJP connector on 127.0.0.1 (one retry when the picked port was taken meanwhile). */
export async function startTomcat(options: TomcatOptions): Promise<Tomcat> {
  try {
    return await tryStart(options);
  } catch (err) {
    if (err instanceof Error && /Address already in use|BindException/.test(err.message)) return tryStart(options);
    throw err;
  }
}
