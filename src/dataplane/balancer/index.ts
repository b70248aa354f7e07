export { Balancer, BalancerMember } from "./balancer.js";
export { BalancerRegistry } from "./registry.js";
export {
  Scoreboard,
  DEFAULT_CAPACITY,
  MEMBER_BUSY,
  MEMBER_ELECTED,
  MEMBER_LBSTATUS,
  MEMBER_ERROR_UNTIL,
  MEMBER_STATUS,
  MEMBER_FIELDS,
  BALANCER_CURSOR,
  BALANCER_FIELDS,
  type ScoreboardCapacity,
} from "./scoreboard.js";
export { SlotAllocator, memberIdentity, type SlotAssignment } from "./slot-allocator.js";
