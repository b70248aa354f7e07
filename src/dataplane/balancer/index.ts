export { Balancer, BalancerMember, PickOutcome } from "./balancer.js";
export { BalancerRegistry } from "./registry.js";
export * from "./scoreboard.js";
export { SlotAllocator, memberIdentity, type SlotAssignment } from "./slot-allocator.js";
export { stickyRouteOf, routeOfValue, urlParam, cookieValue } from "./sticky.js";
export { RuntimeOverrides, describeBalancers, flagLetters, type BalancerEntry, type HealthEntry, type SlotLookup } from "./overrides.js";
