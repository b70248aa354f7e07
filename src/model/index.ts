export * from "./kube-objects.js";
export * from "./cluster-view.js";
export * from "./diagnostic.js";
export * from "./snapshot.js";
export * from "./observer.js";
export * from "./source-change.js";
export * from "./admin.js";
export * from "./tls.js";
