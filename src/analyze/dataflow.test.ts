/**
 * The syscall-number resolver on small hand-assembled sequences: constants, register copies,
 * branch merges, wrappers resolved at their callers, calls that clobber registers, functions
 * that never return, and the paths it must report as unknown.
 */
import { describe, expect, it } from 'vitest';
import { findSites, type FoundSites } from './analysis.js';

const BASE = 0x401000;

/** One piece of a test program: raw bytes, a label, or a branch to a label (rel32 forms). */
type Piece = number[] | { label: string } | { branch: 'jmp' | 'je' | 'call'; to: string };

const imm32 = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
const I = {
  movEax: (v: number) => [0xb8, ...imm32(v)],
  movEdi: (v: number) => [0xbf, ...imm32(v)],
  movEbx: (v: number) => [0xbb, ...imm32(v)],
  movR9d: (v: number) => [0x41, 0xb9, ...imm32(v)],
  movEsiEdi: [0x89, 0xfe], // mov esi, edi
  movEaxEsi: [0x89, 0xf0], // mov eax, esi
  movEaxEbx: [0x89, 0xd8], // mov eax, ebx
  movEaxR9d: [0x44, 0x89, 0xc8], // mov eax, r9d
  movRaxRdi: [0x48, 0x89, 0xf8], // mov rax, rdi
  movRaxRsi: [0x48, 0x89, 0xf0], // mov rax, rsi
  movRsiRdi: [0x48, 0x89, 0xfe], // mov rsi, rdi
  movEaxMemRdi: [0x8b, 0x07], // mov eax, [rdi]
  xorEaxEax: [0x31, 0xc0],
  leaEaxRdiPlus5: [0x8d, 0x47, 0x05], // lea eax, [rdi+5]
  addEax1: [0x83, 0xc0, 0x01], // add eax, 1
  push: (v: number) => [0x6a, v], // push imm8
  popRax: [0x58],
  syscall: [0x0f, 0x05],
  int80: [0xcd, 0x80],
  sysenter: [0x0f, 0x34],
  ret: [0xc3],
  nop: [0x90],
  hlt: [0xf4],
};

/** Lays the pieces out at BASE, resolving labels (two passes: every branch is 5 or 6 bytes). */
function assemble(pieces: Piece[]): { code: Buffer; labels: Map<string, number> } {
  const size = (p: Piece): number => (Array.isArray(p) ? p.length : 'label' in p ? 0 : p.branch === 'je' ? 6 : 5);
  const labels = new Map<string, number>();
  let at = BASE;
  for (const p of pieces) {
    if (!Array.isArray(p) && 'label' in p) labels.set(p.label, at);
    at += size(p);
  }
  const bytes: number[] = [];
  at = BASE;
  for (const p of pieces) {
    at += size(p);
    if (Array.isArray(p)) bytes.push(...p);
    else if ('branch' in p) {
      const target = labels.get(p.to);
      if (target === undefined) throw new Error(`no label ${p.to}`);
      const opcode = p.branch === 'jmp' ? [0xe9] : p.branch === 'call' ? [0xe8] : [0x0f, 0x84];
      bytes.push(...opcode, ...imm32(target - at));
    }
  }
  return { code: Buffer.from(bytes), labels };
}

/**
 * Resolves every site of a program; `functions` names labels that are function symbols, and
 * `pointersTo` labels whose address a data section (placed after the code) holds.
 */
function analyze(pieces: Piece[], functions: string[] = [], pointersTo: string[] = []): FoundSites {
  const { code, labels } = assemble(pieces);
  const symbols = functions.map((name) => ({ name, address: labels.get(name) as number, size: 0 }));
  const data = Buffer.alloc(8 * pointersTo.length);
  pointersTo.forEach((label, i) => data.writeBigUInt64LE(BigInt(labels.get(label) as number), 8 * i));
  return findSites({
    file: Buffer.concat([code, data]),
    regions: [{ name: '.text', address: BASE, fileOffset: 0, size: code.length }],
    data: [{ fileOffset: code.length, address: 0x500000, size: data.length }],
    symbols,
    entry: BASE,
  });
}

const L = (label: string): Piece => ({ label });
const jmp = (to: string): Piece => ({ branch: 'jmp', to });
const je = (to: string): Piece => ({ branch: 'je', to });
const call = (to: string): Piece => ({ branch: 'call', to });

function onlySite(found: FoundSites): FoundSites['sites'][number] {
  expect(found.sites).toHaveLength(1);
  return found.sites[0] as FoundSites['sites'][number];
}

describe('syscall number resolution', () => {
  it('reads `mov eax, imm32; syscall` and reports it as a replaceable pair', () => {
    const site = onlySite(analyze([L('_start'), I.movEax(60), I.syscall, I.hlt]));
    expect(site).toMatchObject({ numbers: [60], resolved: true, address: BASE + 5, fileOffset: 5, length: 2, branchTarget: false });
    expect(site.movEaxPair).toEqual({ address: BASE, fileOffset: 0, number: 60 });
    expect(site.before.map((i) => i.text)).toEqual(['mov eax, 0x3c']);
    expect(site.after.map((i) => i.bytes)).toEqual(['f4']);
  });

  it('follows register copies', () => {
    const site = onlySite(analyze([I.movEdi(39), I.movEsiEdi, I.movEaxEsi, I.syscall, I.hlt]));
    expect(site).toMatchObject({ numbers: [39], resolved: true, movEaxPair: null });
  });

  it('knows that xor eax, eax is 0 and lea adds its displacement', () => {
    expect(onlySite(analyze([I.xorEaxEax, I.syscall, I.hlt])).numbers).toEqual([0]);
    expect(onlySite(analyze([I.movEdi(1), I.leaEaxRdiPlus5, I.syscall, I.hlt])).numbers).toEqual([6]);
  });

  it('follows push imm; pop rax', () => {
    expect(onlySite(analyze([I.push(0x3c), I.popRax, I.syscall, I.hlt])).numbers).toEqual([60]);
  });

  it('merges the values of every path into a branch target, which is then not a replaceable pair', () => {
    const site = onlySite(analyze([I.movEax(1), je('site'), I.movEax(2), L('site'), I.syscall, I.hlt]));
    expect(site).toMatchObject({ numbers: [1, 2], resolved: true, branchTarget: true, movEaxPair: null });
  });

  it('resolves a wrapper whose number arrives in rdi at each of its callers', () => {
    const found = analyze([
      L('main'), I.movEdi(39), call('wrapper'), I.movEdi(110), call('wrapper'), I.ret,
      L('wrapper'), I.movRaxRdi, I.syscall, I.ret,
    ], ['main', 'wrapper']);
    expect(onlySite(found)).toMatchObject({ function: 'wrapper', numbers: [39, 110], resolved: true, through: ['wrapper'] });
  });

  it('does not claim a complete answer for a wrapper whose address is also taken', () => {
    const program: Piece[] = [L('main'), I.movEdi(39), call('wrapper'), I.ret, L('wrapper'), I.movRaxRdi, I.syscall, I.ret];
    const site = onlySite(analyze(program, ['main', 'wrapper'], ['wrapper']));
    expect(site).toMatchObject({ numbers: [39], resolved: false });
    expect(site.unknown[0]?.why).toBe('rdi at the start of wrapper, whose address is taken at 0x500000: calls through pointers are not followed');
  });

  it('resolves two levels of wrappers and a tail jump (musl __syscall_cp -> __syscall_cp_asm)', () => {
    const found = analyze([
      L('main'), I.movEdi(3), call('cp'), I.ret,
      L('cp'), I.movRsiRdi, jmp('cp_asm'),
      L('cp_asm'), I.movRaxRsi, I.syscall, I.ret,
    ], ['main', 'cp', 'cp_asm']);
    expect(onlySite(found)).toMatchObject({ function: 'cp_asm', numbers: [3], resolved: true, through: ['cp', 'cp_asm'] });
  });

  it('finds function starts from call targets when there are no symbols', () => {
    const found = analyze([I.movEdi(57), call('w'), I.hlt, L('w'), I.movRaxRdi, I.syscall, I.ret]);
    expect(onlySite(found)).toMatchObject({ function: `sub_${(BASE + 11).toString(16)}`, numbers: [57], resolved: true });
    expect(found.functions).toMatchObject({ fromSymbols: 0, fromCallTargets: 2 });
  });

  it('keeps callee-saved registers across a call and loses caller-saved ones', () => {
    const kept = analyze([L('main'), I.movEbx(7), call('f'), I.movEaxEbx, I.syscall, I.hlt, L('f'), I.ret], ['main', 'f']);
    expect(onlySite(kept)).toMatchObject({ numbers: [7], resolved: true });
    const lost = onlySite(analyze([L('main'), I.movEax(1), call('f'), I.syscall, I.hlt, L('f'), I.ret], ['main', 'f']));
    expect(lost.resolved).toBe(false);
    expect(lost.unknown[0]?.why).toMatch(/result of `call/);
  });

  it('does not follow the fallthrough of a call to a function that never returns', () => {
    // The shape of glibc code after a call to __libc_fatal: padding, then a loop head.
    const found = analyze([
      L('main'), I.movR9d(202), jmp('loop'),
      call('fatal'), I.nop,
      L('loop'), I.movEaxR9d, I.syscall, I.ret,
      L('fatal'), I.hlt,
    ], ['main', 'fatal']);
    expect(onlySite(found)).toMatchObject({ numbers: [202], resolved: true });
  });

  it('treats unreachable nop padding as dead, not unknown', () => {
    const site = onlySite(analyze([I.movEax(5), jmp('site'), I.nop, I.nop, L('site'), I.syscall, I.hlt]));
    expect(site).toMatchObject({ numbers: [5], resolved: true });
  });

  it('reports what it cannot follow: a load, a wrapper nobody calls directly, a loop that counts', () => {
    const load = onlySite(analyze([I.movEaxMemRdi, I.syscall, I.hlt]));
    expect(load).toMatchObject({ resolved: false, numbers: [], unknown: [{ address: BASE, why: 'loaded from memory by `mov eax, [rdi]`' }] });

    const orphan = onlySite(analyze([L('wrapper'), I.movRaxRdi, I.syscall, I.ret], ['wrapper']));
    expect(orphan.unknown[0]?.why).toBe('rdi at the start of wrapper, which has no direct caller');

    const loop = onlySite(analyze([I.movEax(0), L('top'), I.addEax1, je('top'), I.syscall, I.hlt]));
    expect(loop.resolved).toBe(false);
    expect(loop.unknown.map((u) => u.why)).toContain('rax changes around a loop');
  });

  it('reports code reached only indirectly as unknown', () => {
    const site = onlySite(analyze([I.ret, I.syscall, I.hlt]));
    expect(site.unknown).toEqual([{ address: BASE + 1, why: 'reached only through an indirect jump or call' }]);
  });

  it('flags int 0x80 and sysenter as unsupported', () => {
    const found = analyze([L('f'), I.int80, I.sysenter, I.ret], ['f']);
    expect(found.sites).toEqual([]);
    expect(found.unsupported).toEqual([
      { address: BASE, fileOffset: 0, instruction: 'int 0x80', function: 'f' },
      { address: BASE + 2, fileOffset: 2, instruction: 'sysenter', function: 'f' },
    ]);
  });
});
