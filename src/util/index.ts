export * from "./hash.js";
export * from "./deep-freeze.js";
export * from "./logger.js";
export * from "./cidr.js";
