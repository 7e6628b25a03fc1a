import { readFileSync } from 'node:fs';
import { Decoder, DecoderOptions, Formatter, FormatterSyntax } from 'iced-x86';
import { describe, expect, it } from 'vitest';
import { UNIKIT_ABI } from '../abi/index.js';
import { type SiteInstruction, type SyscallSite, analyzeElf } from '../analyze/index.js';
import { PT_LOAD, parseElf } from '../elf/index.js';
import { artifacts } from '../project/index.js';
import { addSegment, planSegment } from './elf-edit.js';
import { callSequence, planWindow, rewriteSyscalls } from './index.js';

/** Intel text of the code at [address, address + n) of a buffer holding it at `offset`. */
function disassemble(bytes: Buffer, address: number): string[] {
  const decoder = new Decoder(64, bytes, DecoderOptions.None);
  decoder.ip = BigInt(address);
  const f = new Formatter(FormatterSyntax.Intel);
  const out: string[] = [];
  while (decoder.canDecode) {
    const i = decoder.decode();
    out.push(f.format(i));
    i.free();
  }
  decoder.free();
  f.free();
  return out;
}

const ins = (address: number, bytes: string, branchTarget = false): SiteInstruction =>
  ({ address, fileOffset: address - 0x400000, length: bytes.length / 2, bytes, text: '', branchTarget });

function site(o: Partial<SyscallSite> & { address: number }): SyscallSite {
  return {
    fileOffset: o.address - 0x400000, length: 2, function: null, numbers: [60], resolved: true, unknown: [], through: [],
    before: [], after: [], branchTarget: false, movEaxPair: null, ...o,
  };
}

describe('choosing the window around a site', () => {
  it('takes the mov eax, imm32; syscall pair whole', () => {
    const p = planWindow(site({ address: 0x401005, before: [ins(0x401000, 'b83c000000')], movEaxPair: { address: 0x401000, fileOffset: 0x1000, number: 60 } }));
    expect(p).toMatchObject({ ok: true, window: { start: 0x401000, end: 0x401007, kind: 'mov-eax-pair' } });
  });

  it('takes the fewest neighbours that give 5 bytes', () => {
    const p = planWindow(site({
      address: 0x401010,
      before: [ins(0x401009, '4889c7'), ins(0x40100c, '4c89d6'), ins(0x40100f, '90')],
      after: [ins(0x401012, '483d01f0ffff'), ins(0x401018, 'c3')],
    }));
    expect(p).toMatchObject({ ok: true, window: { start: 0x401010, end: 0x401018, kind: 'relocated' } });
  });

  it('never lets a branch land inside the window', () => {
    // Every 5-byte window holds the site or a neighbour some branch lands on, past its start.
    const p = planWindow(site({
      address: 0x401003, branchTarget: true,
      before: [ins(0x401000, '4889c7')],
      after: [ins(0x401005, '90', true), ins(0x401006, 'c3')],
    }));
    expect(p).toEqual({ ok: false, reason: 'a branch lands inside every window of 5 bytes around it' });
  });

  it('stops at a branch: what follows may be other code', () => {
    const p = planWindow(site({ address: 0x401000, after: [ins(0x401002, 'c3'), ins(0x401003, '4889c7')] }));
    expect(p).toEqual({ ok: false, reason: 'too little room: 3 bytes of straight-line code around it, a jump needs 5' });
  });
});

describe('the call sequence', () => {
  it('steps over the red zone, calls the fast entry through r11, and keeps the flags with lea', () => {
    expect(disassemble(callSequence(BigInt(UNIKIT_ABI.FAST_SYSCALL_ENTRY)), 0)).toEqual([
      'lea rsp,[rsp-80h]', 'mov r11,0FFFFFFFFFF600000h', 'call r11', 'lea rsp,[rsp+80h]',
    ]);
  });
});

/** A tiny static program: getpid (a pair), then exit(0) (a relocated window), with or without section headers. */
function tinyProgram(withSections: boolean): Buffer {
  const code = Buffer.from('b8270000000f054889c7b83c00000031ff0f05f4', 'hex');
  const size = 0x1000 + code.length;
  const shoff = withSections ? 0x1100 : 0;
  const buf = Buffer.alloc(withSections ? shoff + 3 * 64 : size);
  buf.writeUInt32BE(0x7f454c46, 0);
  buf[4] = 2; buf[5] = 1; buf[6] = 1;
  buf.writeUInt16LE(2, 16); buf.writeUInt16LE(62, 18); buf.writeUInt32LE(1, 20);
  buf.writeBigUInt64LE(0x401000n, 24);
  buf.writeBigUInt64LE(64n, 32);
  buf.writeBigUInt64LE(BigInt(shoff), 40);
  buf.writeUInt16LE(64, 52); buf.writeUInt16LE(56, 54); buf.writeUInt16LE(1, 56);
  buf.writeUInt16LE(64, 58); buf.writeUInt16LE(withSections ? 3 : 0, 60); buf.writeUInt16LE(withSections ? 2 : 0, 62);
  // One R+X load of the whole file (headers included), like a minimal linker output.
  buf.writeUInt32LE(PT_LOAD, 64); buf.writeUInt32LE(5, 68);
  buf.writeBigUInt64LE(0n, 72); buf.writeBigUInt64LE(0x400000n, 80); buf.writeBigUInt64LE(0x400000n, 88);
  buf.writeBigUInt64LE(BigInt(size), 96); buf.writeBigUInt64LE(BigInt(size), 104); buf.writeBigUInt64LE(0x1000n, 112);
  code.copy(buf, 0x1000);
  if (withSections) {
    // [1] .text (PROGBITS, AX) and [2] .shstrtab, whose names live just after the code.
    const names = Buffer.from('\0.text\0.shstrtab\0');
    names.copy(buf, 0x1080);
    const sh = (i: number, name: number, type: number, flags: number, addr: number, offset: number, len: number): void => {
      const at = shoff + i * 64;
      buf.writeUInt32LE(name, at); buf.writeUInt32LE(type, at + 4); buf.writeBigUInt64LE(BigInt(flags), at + 8);
      buf.writeBigUInt64LE(BigInt(addr), at + 16); buf.writeBigUInt64LE(BigInt(offset), at + 24); buf.writeBigUInt64LE(BigInt(len), at + 32);
    };
    sh(1, 1, 1, 6, 0x401000, 0x1000, code.length);
    sh(2, 7, 3, 0, 0, 0x1080, names.length);
  }
  return buf;
}

describe('rewriting a program', () => {
  for (const withSections of [false, true]) {
    it(`rewrites a pair and a relocated window (${withSections ? 'room for one more header' : 'headers moved into the new segment'})`, () => {
      const elf = tinyProgram(withSections);
      const analysis = analyzeElf(elf, { name: 'tiny' });
      expect(analysis.sites.map((s) => s.numbers)).toEqual([[39], [60]]);
      const r = rewriteSyscalls(elf, analysis);
      expect(r.kept).toEqual([]);
      expect(r.rewritten.map((s) => [s.kind, s.start, s.end])).toEqual([['mov-eax-pair', 0x401000, 0x401007], ['relocated', 0x40100a, 0x401013]]);
      expect(r.segment).toMatchObject({ vaddr: 0x402000, phdrsMoved: !withSections });

      const program = parseElf(r.elf, 'tiny');
      expect(program.loads.map((l) => [l.vaddr, l.flags])).toEqual([[0x400000, 5], [0x402000, 5]]);
      expect(Number(r.elf.readBigUInt64LE(32))).toBe(withSections ? 64 : 0x2000);
      // The sites jump to their trampolines; the rest of each window is int3.
      const hex16 = (n: number | undefined): string => (n ?? 0).toString(16).toUpperCase().padStart(16, '0');
      expect(disassemble(r.elf.subarray(0x1000, 0x1013), 0x401000)).toEqual([
        `jmp ${hex16(r.rewritten[0]?.trampoline)}h`, 'int3', 'int3', 'mov rdi,rax', `jmp ${hex16(r.rewritten[1]?.trampoline)}h`,
        'int3', 'int3', 'int3', 'int3',
      ]);
      const seg = r.segment as { vaddr: number; size: number };
      const first = r.rewritten[0]?.trampoline as number;
      const text = disassemble(r.elf.subarray(0x2000 + (first - seg.vaddr), 0x2000 + seg.size), first);
      expect(text).toEqual([
        'mov eax,27h', 'lea rsp,[rsp-80h]', 'mov r11,0FFFFFFFFFF600000h', 'call r11', 'lea rsp,[rsp+80h]', 'jmp 0000000000401007h',
        'mov eax,3Ch', 'xor edi,edi', 'lea rsp,[rsp-80h]', 'mov r11,0FFFFFFFFFF600000h', 'call r11', 'lea rsp,[rsp+80h]', 'jmp 0000000000401013h',
      ]);
      // No syscall instruction is left for the analysis to find.
      expect(analyzeElf(r.elf, { name: 'tiny' }).sites).toEqual([]);
    });
  }

  it('keeps a site whose window holds an address stored in the data', () => {
    const elf = Buffer.from(readFileSync(artifacts.app('hello')));
    const analysis = analyzeElf(elf, { name: 'hello' });
    const target = rewriteSyscalls(elf, analysis).rewritten.find((s) => s.kind === 'mov-eax-pair');
    expect(target).toBeDefined();
    // Store the address of the syscall of that pair in the program's writable data.
    const data = parseElf(elf, 'hello').loads.find((l) => l.flags & 2);
    const at = (data?.offset ?? 0) + ((8 - ((data?.vaddr ?? 0) % 8)) % 8);
    elf.writeBigUInt64LE(BigInt((target?.end ?? 0) - 2), at);
    const r = rewriteSyscalls(elf, analysis);
    expect(r.kept).toEqual([{ address: (target?.end ?? 0) - 2, reason: expect.stringMatching(/inside its window is stored in the program's data/) }]);
    expect(r.rewritten.length).toBe(analysis.sites.length - 1);
  });

  it('keeps the file as it is when nothing can be rewritten', () => {
    const elf = tinyProgram(false);
    const analysis = analyzeElf(elf, { name: 'tiny' });
    const unresolved = { ...analysis, sites: analysis.sites.map((s) => ({ ...s, resolved: false })) };
    const r = rewriteSyscalls(elf, unresolved);
    expect(r.elf).toBe(elf);
    expect(r.segment).toBeNull();
    expect(r.kept.map((k) => k.reason)).toEqual(['its number is not resolved statically', 'its number is not resolved statically']);
  });

  it('moves the header table and PT_PHDR together', () => {
    const elf = readFileSync(artifacts.app('hello-pie'));
    const program = parseElf(elf, 'hello-pie');
    const layout = planSegment(elf, program);
    expect(layout.phdrsMoved).toBe(true);
    const out = addSegment(elf, program, layout, Buffer.from([0xc3]));
    const phdr = parseElf(out, 'x').segments.find((s) => s.type === 6);
    if (program.segments.some((s) => s.type === 6)) {
      expect(phdr).toMatchObject({ offset: layout.fileOffset, vaddr: layout.vaddr, filesz: (program.segments.length + 1) * 56 });
    }
  });
});
