import { describe, expect, it } from 'vitest';
import { PROFILE_FORMAT, TraceError, formatProfile, formatProfileJson, nameSyscalls, parseTraceLine, readProfile } from './index.js';

describe('trace lines', () => {
  it('reads the numbers of an @trace line, sorted, once each', () => {
    expect(parseTraceLine('@trace 231,1,16,1')).toEqual([1, 16, 231]);
    expect(parseTraceLine('@trace')).toEqual([]);
  });
  it('ignores other lines and rejects a malformed one', () => {
    expect(parseTraceLine('@exit 0 exit')).toBeUndefined();
    expect(parseTraceLine('@tracer 1')).toBeUndefined();
    expect(() => parseTraceLine('@trace 1,x')).toThrow(TraceError);
  });
});

describe('profiles', () => {
  const profile = {
    format: PROFILE_FORMAT, program: 'hello', argv: ['/hello'], status: 0,
    syscalls: nameSyscalls([231, 20, 16]), missedByAnalysis: [],
  } as const;

  it('reads back what trace --json wrote', () => {
    expect(readProfile(formatProfileJson({ ...profile, syscalls: [...profile.syscalls], argv: [...profile.argv], missedByAnalysis: [] }), 'p.json')).toEqual([16, 20, 231]);
  });
  it('reads names and numbers in plain text, with comments', () => {
    expect(readProfile('# made by hand\nwrite, exit_group\n0 nr_400\n', 'p.txt')).toEqual([0, 1, 231, 400]);
    expect(readProfile('["read", 1]', 'p.json')).toEqual([0, 1]);
  });
  it('names what it cannot read', () => {
    expect(() => readProfile('write frobnicate', 'p.txt')).toThrow(/p\.txt is not a syscall profile: "frobnicate" is not a Linux x86-64 syscall name/);
    expect(() => readProfile('{"syscalls": 3}', 'p.json')).toThrow(/no "syscalls" list/);
    expect(() => readProfile('{bad', 'p.json')).toThrow(/invalid JSON/);
  });
  it('prints the set and what static analysis missed', () => {
    const text = formatProfile({ ...profile, syscalls: [...profile.syscalls], argv: [], missedByAnalysis: nameSyscalls([20]) });
    expect(text).toMatch(/^hello: 3 syscalls made \(status 0\)\n {4}16 {2}ioctl\n/);
    expect(text).toMatch(/not found by static analysis: writev/);
  });
});
