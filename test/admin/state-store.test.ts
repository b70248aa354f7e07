// File-mode persistence: atomic JSON writes, load at start, a bad file logged and ignored.
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { FileStateStore } from "../../src/admin/index.js";
import { parseRuntimeState, serializeRuntimeState, type RuntimeState } from "../../src/model/index.js";

function logger(): { log: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _e, cb) {
      for (const l of chunk.toString().split("\n")) if (l !== "") lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { log: pino({ level: "info" }, sink), lines };
}

const drained: RuntimeState = { balancers: { "ns/web:80": { lbmethod: "random2", members: { "10.0.0.1:8080": { flags: "N", loadfactor: 70, lbset: null } } } } };

describe("FileStateStore", () => {
  it("writes the state atomically (no temp file left) and a new store loads it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ppi-state-"));
    const path = join(dir, "state.json");
    const a = new FileStateStore({ path, logger: logger().log });
    await a.load();
    const seen: RuntimeState[] = [];
    a.subscribe((s) => seen.push(s));
    await a.update(() => drained);
    expect(readdirSync(dir)).toEqual(["state.json"]);
    expect(JSON.parse(readFileSync(path, "utf8"))).toEqual(drained);
    expect(seen).toEqual([drained]);
    const b = new FileStateStore({ path, logger: logger().log });
    expect(await b.load()).toEqual(drained);
  });

  it("runs concurrent edits one after another, each on the previous result", async () => {
    const store = new FileStateStore({ path: null, logger: logger().log });
    const flag = (f: string) => (s: RuntimeState): RuntimeState => {
      const m = s.balancers["b"]?.members["m"];
      return { balancers: { b: { lbmethod: null, members: { m: { flags: `${m?.flags ?? ""}${f}`, loadfactor: null, lbset: null } } } } };
    };
    await Promise.all([store.update(flag("N")), store.update(flag("D")), store.update(flag("S"))]);
    expect(store.current().balancers["b"]?.members["m"]?.flags).toBe("NDS");
  });

  it.each([
    { name: "not JSON", text: "{nope", message: /not JSON/ },
    { name: "a loadfactor out of range", text: JSON.stringify({ balancers: { b: { members: { m: { loadfactor: 500 } } } } }), message: /balancers\.b\.members\.m\.loadfactor/ },
    { name: "an unknown flag", text: JSON.stringify({ balancers: { b: { members: { m: { flags: "X" } } } } }), message: /flags/ },
  ])("an invalid file ($name) is logged and the store starts empty", async ({ text, message }) => {
    const dir = mkdtempSync(join(tmpdir(), "ppi-state-"));
    const path = join(dir, "state.json");
    writeFileSync(path, text);
    const { log, lines } = logger();
    const store = new FileStateStore({ path, logger: log });
    expect(await store.load()).toEqual({ balancers: {} });
    const line = lines.find((l) => l["level"] === 50);
    expect(String(line?.["msg"])).toMatch(/invalid balancer-manager state file/);
    expect(String(line?.["msg"])).toMatch(message);
  });

  it("a missing file is an empty state", async () => {
    const store = new FileStateStore({ path: join(mkdtempSync(join(tmpdir(), "ppi-state-")), "none.json"), logger: logger().log });
    expect(await store.load()).toEqual({ balancers: {} });
  });

  it("serialization is stable and drops empty overrides", () => {
    const text = serializeRuntimeState({ balancers: { z: { lbmethod: null, members: { m: { flags: "", loadfactor: null, lbset: null } } }, a: { lbmethod: null, members: { m: { flags: "DN", loadfactor: null, lbset: 2 } } } } });
    expect(JSON.parse(text)).toEqual({ balancers: { a: { lbmethod: null, members: { m: { flags: "ND", loadfactor: null, lbset: 2 } } } } });
    expect(parseRuntimeState(text)).toEqual(JSON.parse(text));
  });
});
