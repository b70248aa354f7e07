import { describe, expect, it } from "vitest";
import { connectFamily, parseAnnotations, settingKeys } from "../../../src/build/index.js";

const key = "proxypass.io/allow-connect";

describe("allow-connect annotation", () => {
  it.each<{ name: string; value: string | undefined; ports: number[] | null }>([
    { name: "absent: CONNECT refused", value: undefined, ports: null },
    { name: "one port", value: "443", ports: [443] },
    { name: "several ports, sorted and unique, spaces allowed", value: "8443, 443,443", ports: [443, 8443] },
    { name: "the extremes", value: "1,65535", ports: [1, 65535] },
  ])("$name", ({ value, ports }) => {
    const parsed = connectFamily.parse(value === undefined ? {} : { [key]: value });
    expect(parsed.diagnostics).toEqual([]);
    expect(parsed.value.ports).toEqual(ports);
  });

  it.each(["", "0", "65536", "443,", "https", "443-445", "-1", "44 3", "*"])("%j is an InvalidAnnotation error", (value) => {
    const parsed = connectFamily.parse({ [key]: value });
    expect(parsed.diagnostics).toMatchObject([{ severity: "error", reason: "InvalidAnnotation", key }]);
    expect(parsed.value.ports).toBeNull();
  });

  it("reaches the route options", () => {
    expect(parseAnnotations({ [key]: "443" }).options.connectPorts).toEqual([443]);
    expect(parseAnnotations({}).options.connectPorts).toBeNull();
  });

  it("is not a ConfigMap key (CONNECT is opened per Ingress only)", () => {
    expect(settingKeys).not.toContain("allow-connect");
  });
});
