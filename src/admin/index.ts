export * from "./server.js";
export * from "./metrics.js";
