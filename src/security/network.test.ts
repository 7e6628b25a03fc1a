/** The network policy's pure parts: parsing, validation, the kernel tokens. */
import { describe, expect, it } from 'vitest';
import {
  NetworkPolicyError, networkPolicyFromRules, networkPolicyTokens, parseEgressTarget, parseListenPort, validateNetworkPolicy, withListenPorts,
} from './index.js';

describe('network policy', () => {
  it('parses --listen and --egress values', () => {
    expect(parseListenPort('8080')).toBe(8080);
    expect(parseEgressTarget('10.0.2.2:8080')).toEqual({ host: '10.0.2.2', port: 8080 });
    expect(parseEgressTarget('10.0.2.3:*')).toEqual({ host: '10.0.2.3', port: '*' });
    expect(parseEgressTarget('10.0.0.0/8:443')).toEqual({ host: '10.0.0.0/8', port: 443 });
  });

  it('refuses bad values, naming them', () => {
    for (const bad of ['0', '65536', 'http', '', '8O']) expect(() => parseListenPort(bad), bad).toThrow(NetworkPolicyError);
    for (const bad of ['10.0.2.2', '10.0.2.2:0', '10.0.2.2:70000', '10.0.2.256:80', '10.0.2:80', '10.0.0.0/33:80', ':80', '01.0.0.1:80']) {
      expect(() => parseEgressTarget(bad), bad).toThrow(NetworkPolicyError);
    }
    expect(() => parseEgressTarget('db.example.com:5432')).toThrow(/a host name: resolve it to an IPv4 address first/);
  });

  it('validates a policy read from JSON, naming the place', () => {
    expect(validateNetworkPolicy({ listen: [80, 80], egress: [{ host: '10.0.2.2', port: '*' }] }, 'x'))
      .toEqual({ listen: [80], egress: [{ host: '10.0.2.2', port: '*' }] });
    expect(() => validateNetworkPolicy({ listen: [80] }, 'manifest.json network.policy')).toThrow('manifest.json network.policy: egress must be a list');
    expect(() => validateNetworkPolicy({ listen: ['80'], egress: [] }, 'p')).toThrow('p: listen[0] is "80"');
    expect(() => validateNetworkPolicy({ listen: [], egress: [{ host: 'x', port: 1 }] }, 'p')).toThrow('p: egress[0].host is "x"');
    expect(() => validateNetworkPolicy({ listen: [], egress: [], ingress: [] }, 'p')).toThrow('unknown key "ingress"');
    expect(() => validateNetworkPolicy({ listen: Array.from({ length: 65 }, (_, i) => i + 1), egress: [] }, 'p')).toThrow('more than 64 listen ports');
  });

  it('turns into the kernel tokens, empty lists left out', () => {
    expect(networkPolicyTokens({ listen: [80, 443], egress: [{ host: '10.0.2.2', port: 8080 }, { host: '10.0.0.0/8', port: '*' }] }))
      .toEqual(['netpolicy', 'listen=80,443', 'egress=10.0.2.2:8080,10.0.0.0/8:*']);
    expect(networkPolicyTokens({ listen: [], egress: [] })).toEqual(['netpolicy']);
    expect(withListenPorts({ listen: [80], egress: [] }, [8080, 80]).listen).toEqual([80, 8080]);
  });

  it('is made from a service\'s ports and unikit.policies.Network rules', () => {
    const resolve = (name: string, port: number | undefined) =>
      name === 'db' ? [{ host: '10.0.2.2', port: port === 5432 ? 40001 : ('*' as const) }] : undefined;
    expect(networkPolicyFromRules({ ports: [80, 443], ingress: [], egress: [] }, resolve)).toEqual({ listen: [80, 443], egress: [] });
    expect(networkPolicyFromRules({
      ports: [80, 443, 9000],
      ingress: [{ from: 'any', ports: [80] }, { from: '10.0.0.0/8', ports: [443] }],
      egress: [{ to: 'db', ports: [5432] }, { to: '10.0.2.3', ports: [53] }, { to: 'any' }, { to: '192.168.0.0/16' }],
    }, resolve)).toEqual({
      listen: [80, 443],
      egress: [
        { host: '10.0.2.2', port: 40001 }, { host: '10.0.2.3', port: 53 }, { host: '0.0.0.0/0', port: '*' }, { host: '192.168.0.0/16', port: '*' },
      ],
    });
    expect(() => networkPolicyFromRules({ ports: [], ingress: [], egress: [{ to: 'cache', ports: [6379] }] }, resolve))
      .toThrow('egress to "cache" port 6379: not an address, and nothing it resolves to');
  });
});
