// Property tests (fast-check) over every annotation key and every ConfigMap key: arbitrary values
// (any Unicode, control characters, near-valid numbers, lists and header lines) never make a parser
// throw; every finding about the key is an InvalidAnnotation error or a known warning, with a
// message free of raw control characters (it goes into logs and Events); and a value carrying a
// control character (CR, NUL, ...) is always refused with a diagnostic, never accepted.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { annotationFamilies, checkSetting, knownAnnotationKeys, parseAnnotations, serverSettingKeys, settingKeys } from "../../../src/build/index.js";

const NEAR_VALID = ["5", "0", "0.5", "-1", "1e3", "0x10", "99999999999", "3.1415", "true", "false", "TRUE", "GET", "TCP", "byrequests", "ROUTEID", "ROUTEID|jsessionid", "200-399", "500,503", "set X-A b", "unset Server", "add X-B c\nset X-C d", "/healthz", "svc:80", "svc:http", "host.test:8080", "info,proxy=debug", "json"];
const CONTROL = fc.constantFrom("\u0000", "\r", "\u0001", "\u001b", "\u007f", "\u000b", "\u000c", "\r\n");

/** Near-valid values with random characters put in, plus arbitrary strings of every kind. */
const value = fc.oneof(
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.string({ maxLength: 40 }),
  fc.constantFrom(...NEAR_VALID),
  fc.tuple(fc.constantFrom(...NEAR_VALID), fc.string({ unit: "binary", maxLength: 3 }), fc.nat(20)).map(([v, s, at]) => v.slice(0, at) + s + v.slice(at)),
  fc.constantFrom(...NEAR_VALID).map((v) => ` ${v} `),
  fc.nat(20).map((n) => "9".repeat(n * 20)),
);

/** A near-valid value with one control character inserted somewhere. */
const withControl = fc.tuple(fc.constantFrom(...NEAR_VALID), CONTROL, fc.nat(40)).map(([v, c, at]) => {
  const i = at % (v.length + 1);
  return v.slice(0, i) + c + v.slice(i);
});

const implementedKeys = annotationFamilies.filter((f) => f.implemented).flatMap((f) => f.keys);
const allKeys = [...knownAnnotationKeys];
const KNOWN_WARNINGS = new Set(["AnnotationNotImplemented", "AnnotationIgnored", "UnknownAnnotation"]);
// eslint-disable-next-line no-control-regex
const RAW_CONTROL = /[\u0000-\u001f\u007f]/;

describe("annotation parsers on arbitrary values", () => {
  it("never throw; each finding is an InvalidAnnotation error or a known warning, with an escaped message", () => {
    fc.assert(
      fc.property(fc.constantFrom(...allKeys), value, (key, v) => {
        const parsed = parseAnnotations({ [key]: v });
        for (const f of parsed.findings) {
          expect(f.key).toBe(key);
          if (f.severity === "error") expect(f.reason).toBe("InvalidAnnotation");
          else expect(KNOWN_WARNINGS.has(f.reason)).toBe(true);
          expect(RAW_CONTROL.test(f.message)).toBe(false);
          // The value is quoted shortened (80 characters): a huge value never makes a huge Event.
          expect(f.message.length).toBeLessThan(600);
        }
      }),
      { numRuns: 2000, seed: 7 },
    );
  });

  it("refuse every value that carries a control character (InvalidAnnotation errors, each naming the key)", () => {
    fc.assert(
      fc.property(fc.constantFrom(...implementedKeys), withControl, (key, v) => {
        const errors = parseAnnotations({ [key]: v }).findings.filter((f) => f.severity === "error");
        expect(errors.length).toBeGreaterThan(0);
        for (const f of errors) expect([f.key, f.reason]).toEqual([key, "InvalidAnnotation"]);
      }),
      { numRuns: 1000, seed: 8 },
    );
  });

  it("several keys at once: never throw, and every error names one of the keys given", () => {
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom(...allKeys), value, { maxKeys: 8 }), (annotations) => {
        const parsed = parseAnnotations(annotations);
        for (const f of parsed.findings) expect(Object.hasOwn(annotations, f.key)).toBe(true);
      }),
      { numRuns: 500, seed: 9 },
    );
  });
});

describe("ConfigMap keys on arbitrary values", () => {
  it("checkSetting never throws, and refuses control characters", () => {
    const keys = [...settingKeys, ...serverSettingKeys];
    fc.assert(
      fc.property(fc.constantFrom(...keys), value, withControl, (key, v, bad) => {
        const check = checkSetting(key, v);
        if (!check.ok) expect(check.reason.length).toBeGreaterThan(0);
        expect(checkSetting(key, bad).ok).toBe(false);
      }),
      { numRuns: 1000, seed: 11 },
    );
  });
});
