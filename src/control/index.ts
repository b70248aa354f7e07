export * from "./reconciler.js";
export * from "./endpoint-ledger.js";
export * from "./admission.js";
