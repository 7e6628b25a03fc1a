/** The host fence's nft script for a tap (pure; the rules themselves are tested with real VMs in test/e2e/network-fence.test.ts). */
import { describe, expect, it } from 'vitest';
import { tapFenceScript } from './fence.js';

const guest = { tap: 'unikit-0-7', ip: '10.77.0.7', mac: '52:54:0a:4d:00:07' };

describe('tapFenceScript', () => {
  it('lets the guest out only from its own MAC and address, to declared targets, and in only on declared ports', () => {
    const s = tapFenceScript(guest, { listen: [80, 53], egress: [{ host: '10.77.0.1', port: 8080 }, { host: '192.168.0.0/16', port: '*' }] });
    expect(s).toContain('add rule bridge unikit from_unikit-0-7 ether saddr != 52:54:0a:4d:00:07 counter drop');
    expect(s).toContain('ip saddr 10.77.0.7 ip daddr 10.77.0.1 meta l4proto { tcp, udp } th dport 8080 update @peers_unikit-0-7');
    expect(s).toMatch(/ip daddr 192\.168\.0\.0\/16 meta l4proto \{ tcp, udp \} update @peers/);
    expect(s).toContain('th dport { 80, 53 } update @peers_unikit-0-7 { ip saddr . meta l4proto . th sport . th dport } return');
    // Both directions end in a counted drop; the maps send the tap's traffic to its chains.
    expect(s.match(/counter drop\n/g)).toHaveLength(3);
    expect(s).toContain('add element bridge unikit from_guest { "unikit-0-7" : jump from_unikit-0-7 }');
    expect(s).toContain('add element bridge unikit to_guest { "unikit-0-7" : jump to_unikit-0-7 }');
  });

  it('with nothing declared, only ARP and nothing else passes; a name nft cannot take is refused', () => {
    const s = tapFenceScript(guest, { listen: [], egress: [] });
    expect(s).not.toContain('th dport {');
    expect(s).not.toMatch(/ip saddr \S+ ip daddr \d/);
    expect(() => tapFenceScript({ ...guest, tap: 'x"; flush ruleset' }, { listen: [], egress: [] })).toThrow('unexpected characters');
  });
});
