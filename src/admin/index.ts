export * from "./server.js";
export * from "./metrics.js";
export * from "./access.js";
export * from "./state-store.js";
export { BalancerManager, BALANCER_MANAGER_PATH, type BalancerManagerOptions, type Actor } from "./balancer-manager.js";
export { applyEdit, parseEditRequest, formToRequest, editRequestSchema, type AdminEdit } from "./balancer-edit.js";
export { renderBalancerManager, escapeHtml, PAGE_CSP } from "./balancer-manager-page.js";
export { WebhookServer, WebhookError, WEBHOOK_PATH, type WebhookServerOptions } from "./webhook.js";
