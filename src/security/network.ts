/**
 * From a service's declared network (the TOSCA profile's `ports` and unikit.policies.Network
 * rules, src/tosca's IngressRule/EgressRule) to the NetworkPolicy its guest kernel enforces.
 * Pure: names (node templates, host names) are resolved by the caller, who knows the deployment.
 */
import { type EgressTarget, type NetworkPolicy, NetworkPolicyError, isEgressHost, validateNetworkPolicy } from '../abi/index.js';

export interface NetworkRules {
  /** The service's own ports (its node template's `ports`). */
  ports: readonly number[];
  /** Who may connect to which ports; without rules every port of `ports` is open. */
  ingress: readonly { from: string; ports?: readonly number[] }[];
  /** Where it may connect; `to` is "any", an IPv4 address or CIDR, or a name for `resolve`. */
  egress: readonly { to: string; ports?: readonly number[] }[];
}

/**
 * The policy: listen on the ports the ingress rules name (all of `ports` when there are none,
 * or when a rule names no ports), egress to each rule's `to` on each of its ports (`*` without
 * ports, `0.0.0.0/0` for "any"). A name goes through `resolve(name, port)`, which returns the
 * addresses the guest reaches it at (say 10.0.2.2 and a front's host port), or undefined when it
 * is unknown. The ingress rules' `from` cannot be expressed (under user networking every
 * connection comes from QEMU's forwarder): the orchestrator's front has to check it.
 */
export function networkPolicyFromRules(
  rules: NetworkRules,
  resolve: (name: string, port: number | undefined) => EgressTarget[] | undefined,
): NetworkPolicy {
  const everyPort = rules.ingress.length === 0 || rules.ingress.some((r) => !r.ports || r.ports.length === 0);
  const listen = everyPort ? [...rules.ports] : rules.ingress.flatMap((r) => [...(r.ports ?? [])]);
  const egress: EgressTarget[] = [];
  for (const rule of rules.egress) {
    const ports: (number | undefined)[] = rule.ports?.length ? [...rule.ports] : [undefined];
    for (const port of ports) {
      if (rule.to === 'any' || isEgressHost(rule.to)) {
        egress.push({ host: rule.to === 'any' ? '0.0.0.0/0' : rule.to, port: port ?? '*' });
        continue;
      }
      const targets = resolve(rule.to, port);
      if (!targets) throw new NetworkPolicyError(`egress to ${JSON.stringify(rule.to)}${port ? ` port ${port}` : ''}: not an address, and nothing it resolves to`);
      egress.push(...targets);
    }
  }
  return validateNetworkPolicy({ listen, egress }, 'the network policy made from the service\'s rules');
}
