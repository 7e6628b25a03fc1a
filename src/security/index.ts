/** Security levels (low, medium, high, strict), the mechanisms each turns on, and overrides. */
export {
  LEVELS, MECHANISMS, MECHANISM_TABLE, SecurityError, isLevel, isMechanism, levelTableMarkdown, mechanismInfo,
  parseLevel, planSecurity,
} from './levels.js';
export type {
  Enforcer, Level, Mechanism, MechanismInfo, Overrides, SecurityErrorCode, SecurityFlag, SecurityPlan,
} from './levels.js';
/** The network mechanism's policy: ports to listen on, targets to reach (enforced by the guest kernel). */
export {
  NETWORK_POLICY_LIMITS, NetworkPolicyError, describeNetworkPolicy, isEgressHost, networkPolicyTokens,
  parseEgressTarget, parseListenPort, validateNetworkPolicy, withListenPorts,
} from '../abi/index.js';
export type { EgressTarget, NetworkPolicy } from '../abi/index.js';
export { networkPolicyFromRules } from './network.js';
export type { NetworkRules } from './network.js';
