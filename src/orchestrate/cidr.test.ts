import { describe, expect, it } from 'vitest';
import { type Cidr, inCidr, ipv4Value, isLoopbackBlock, parseCidr } from './cidr.js';

const block = (t: string): Cidr => parseCidr(t) as Cidr;

describe('CIDR matching for ingress rules', () => {
  it('parses addresses, blocks and any; a node name is not one', () => {
    expect(parseCidr('10.1.2.3')).toEqual({ net: 0x0a010203, mask: 0xffffffff, text: '10.1.2.3' });
    expect(parseCidr('10.1.2.3/8')).toEqual({ net: 0x0a000000, mask: 0xff000000, text: '10.1.2.3/8' });
    expect(parseCidr('any')).toEqual({ net: 0, mask: 0, text: 'any' });
    for (const bad of ['web', '10.0.0.256', '10.0.0.0/33', '10.0.0/8', '', '1.2.3.4/']) expect(parseCidr(bad)).toBeNull();
  });

  it('matches the addresses inside a block only, at every prefix length', () => {
    expect(inCidr('192.168.1.77', block('192.168.1.0/24'))).toBe(true);
    expect(inCidr('192.168.2.1', block('192.168.1.0/24'))).toBe(false);
    expect(inCidr('10.255.255.255', block('10.0.0.0/8'))).toBe(true);
    expect(inCidr('11.0.0.0', block('10.0.0.0/8'))).toBe(false);
    expect(inCidr('172.16.0.1', block('172.16.0.1'))).toBe(true);
    expect(inCidr('172.16.0.2', block('172.16.0.1/32'))).toBe(false);
    expect(inCidr('128.0.0.1', block('0.0.0.0/1'))).toBe(false);
    expect(inCidr('127.255.0.1', block('0.0.0.0/1'))).toBe(true);
    expect(inCidr('255.255.255.255', block('any'))).toBe(true);
    expect(inCidr('0.0.0.0', block('0.0.0.0/0'))).toBe(true);
  });

  it('reads dual-stack IPv4 addresses and never matches IPv6 or garbage', () => {
    expect(ipv4Value('::ffff:127.0.0.1')).toBe(0x7f000001);
    expect(inCidr('::ffff:10.0.0.5', block('10.0.0.0/8'))).toBe(true);
    expect(inCidr('::1', block('any'))).toBe(false);
    expect(inCidr('', block('any'))).toBe(false);
    expect(ipv4Value('10.0.0.0/8')).toBeNull();
  });

  it('tells loopback-only blocks apart', () => {
    expect(isLoopbackBlock(block('127.0.0.1'))).toBe(true);
    expect(isLoopbackBlock(block('127.0.0.0/8'))).toBe(true);
    expect(isLoopbackBlock(block('127.0.0.0/7'))).toBe(false);
    expect(isLoopbackBlock(block('10.0.0.0/8'))).toBe(false);
    expect(isLoopbackBlock(block('any'))).toBe(false);
  });
});
