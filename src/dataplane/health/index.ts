export { HealthChecker, HEALTH_CHECK_USER_AGENT, HEALTH_CHECK_BODY_CAP, isExpected, sameHealthCheck, type HealthCheckerOptions, type HealthResult } from "./health-checker.js";
