import { describe, expect, it } from 'vitest';
import { UNIKIT_ABI } from '../abi/index.js';
import { NotElfError } from '../elf/index.js';
import { MissingFileError } from '../image/index.js';
import { VmCrashedError } from '../vmm/index.js';
import { onePositional, parseArgs } from './args.js';
import { parseFileSpec } from './file-spec.js';
import { describeFailure } from './report.js';
import { parseSize } from './size.js';
import { UsageError } from './usage.js';

describe('parseSize', () => {
  it('reads bytes and binary K, M, G suffixes in their usual spellings', () => {
    expect(parseSize('4M')).toBe(4 << 20);
    expect(parseSize('16MiB')).toBe(16 << 20);
    expect(parseSize('16mb')).toBe(16 << 20);
    expect(parseSize('512K')).toBe(512 << 10);
    expect(parseSize('512k')).toBe(512 << 10);
    expect(parseSize('1G')).toBe(1 << 30);
    expect(parseSize('1048576')).toBe(1 << 20);
    expect(parseSize('1.5M')).toBe(1.5 * (1 << 20));
  });
  it('refuses what it cannot read, quoting it', () => {
    for (const bad of ['', 'M', '4X', '-1M', '0', 'lots', '4 M B']) expect(() => parseSize(bad)).toThrow(UsageError);
    expect(() => parseSize('4X')).toThrow('bad size for --mem: "4X"');
  });
});

describe('parseArgs', () => {
  const specs = [
    { name: 'mem', kind: 'value' },
    { name: 'env', kind: 'list' },
    { name: 'verbose', short: 'v', kind: 'flag' },
    { name: 'out', short: 'o', kind: 'value' },
  ] as const;

  it('takes options anywhere before --, and the program arguments after it', () => {
    const p = parseArgs('run', ['--env', 'A=1', 'prog', '--mem=4M', '-v', '-o', 'dir', '--env', 'B=2', '--', '--mem', 'x', '--'], specs);
    expect(p.positionals).toEqual(['prog']);
    expect(p.values.get('mem')).toBe('4M');
    expect(p.values.get('out')).toBe('dir');
    expect(p.lists.get('env')).toEqual(['A=1', 'B=2']);
    expect(p.flags.has('verbose')).toBe(true);
    expect(p.rest).toEqual(['--mem', 'x', '--']);
  });
  it('tells "no --" from "-- with nothing after"', () => {
    expect(parseArgs('run', ['p'], specs).rest).toBeUndefined();
    expect(parseArgs('run', ['p', '--'], specs).rest).toEqual([]);
  });
  it('refuses unknown options, missing values and stray arguments', () => {
    expect(() => parseArgs('run', ['--nope'], specs)).toThrow('unknown option --nope for `unikit run`');
    expect(() => parseArgs('run', ['--mem'], specs)).toThrow('--mem needs a value');
    expect(() => parseArgs('run', ['--verbose=1'], specs)).toThrow('--verbose takes no value');
    expect(() => onePositional('run', parseArgs('run', ['a', 'b'], specs), 'x')).toThrow(/put the program's own arguments after --/);
    expect(() => onePositional('run', parseArgs('run', [], specs), 'an image')).toThrow('`unikit run` needs an image');
  });
});

describe('parseFileSpec', () => {
  it('splits HOST:GUEST at the last colon, defaulting GUEST to /<basename>', () => {
    expect(parseFileSpec('./a.txt:/etc/a.txt')).toEqual({ host: './a.txt', guest: '/etc/a.txt' });
    expect(parseFileSpec('/x/y/data.bin')).toEqual({ host: '/x/y/data.bin', guest: '/data.bin' });
    expect(parseFileSpec('odd:name:/g')).toEqual({ host: 'odd:name', guest: '/g' });
    expect(() => parseFileSpec('a:')).toThrow(UsageError);
  });
});

describe('describeFailure', () => {
  it('gives one line and the documented statuses', () => {
    expect(describeFailure(new UsageError('bad'), true)).toEqual({ line: 'unikit: bad', status: 2 });
    expect(describeFailure(new NotElfError('x', Buffer.from('abcd')), true).status).toBe(UNIKIT_ABI.STATUS_LOAD_ERROR);
    expect(describeFailure(new NotElfError('x', Buffer.from('abcd')), false).status).toBe(1);
    expect(describeFailure(new MissingFileError('file', '/f'), true)).toEqual({ line: 'unikit: file /f does not exist', status: 125 });
    expect(describeFailure(new VmCrashedError(['a'], 'exited with code 1', ''), true).status).toBe(125);
    const f = describeFailure(new Error('boom'), true);
    expect(f.line).toMatch(/^unikit: internal error: Error: boom/);
  });
});
