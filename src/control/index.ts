export * from "./reconciler.js";
