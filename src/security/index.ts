/** Security levels (low, medium, high, strict), the mechanisms each turns on, and overrides. */
export {
  LEVELS, MECHANISMS, MECHANISM_TABLE, SecurityError, isLevel, isMechanism, levelTableMarkdown, mechanismInfo,
  parseLevel, planSecurity,
} from './levels.js';
export type {
  Enforcer, Level, Mechanism, MechanismInfo, Overrides, SecurityErrorCode, SecurityFlag, SecurityPlan,
} from './levels.js';
