/**
 * What a dynamically linked ELF64 x86-64 file asks the dynamic linker for: its interpreter
 * (PT_INTERP) and, from its dynamic section (PT_DYNAMIC), the libraries it needs (DT_NEEDED) and
 * where to look for them (DT_RPATH, DT_RUNPATH). For packing a program with its libraries into
 * a Linux microVM's initramfs; the unikernel itself refuses such programs (reader.ts).
 */
import { ElfHeaderError, ElfTruncatedError, NotElfError, NotX86_64Error } from './errors.js';

const PT_LOAD = 1;
const PT_DYNAMIC = 2;
const PT_INTERP = 3;
const DT_NULL = 0;
const DT_NEEDED = 1;
const DT_STRTAB = 5;
const DT_STRSZ = 10;
const DT_RPATH = 15;
const DT_RUNPATH = 29;
const EM_X86_64 = 62;

export interface ElfDynamicInfo {
  /** PT_INTERP's path; undefined for a shared library or a static-PIE. */
  interpreter?: string;
  /** DT_NEEDED names, in order. */
  needed: string[];
  /** DT_RPATH directories (colon-separated lists split), $ORIGIN unexpanded. */
  rpath: string[];
  /** DT_RUNPATH directories. */
  runpath: string[];
}

interface Phdr { type: number; offset: number; vaddr: number; filesz: number }

/**
 * The dynamic-linking needs of a 64-bit x86-64 ELF; undefined for a file without PT_DYNAMIC
 * (a static program). Throws an ElfError naming the problem for anything it cannot read.
 */
export function elfDynamicInfo(buf: Buffer, file: string): ElfDynamicInfo | undefined {
  if (buf.length < 64 || buf.readUInt32BE(0) !== 0x7f454c46) throw new NotElfError(file, buf.subarray(0, 4));
  if (buf[4] !== 2 || buf[5] !== 1) throw new ElfHeaderError(file, 'not a little-endian 64-bit ELF');
  const machine = buf.readUInt16LE(18);
  if (machine !== EM_X86_64) throw new NotX86_64Error(file, machine);
  const phoff = Number(buf.readBigUInt64LE(32));
  const phnum = buf.readUInt16LE(56);
  if (phoff + phnum * 56 > buf.length) throw new ElfTruncatedError(file, 'the program header table', phoff + phnum * 56, buf.length);
  const phdrs: Phdr[] = [];
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * 56;
    phdrs.push({
      type: buf.readUInt32LE(at),
      offset: Number(buf.readBigUInt64LE(at + 8)),
      vaddr: Number(buf.readBigUInt64LE(at + 16)),
      filesz: Number(buf.readBigUInt64LE(at + 32)),
    });
  }
  const dyn = phdrs.find((p) => p.type === PT_DYNAMIC);
  if (!dyn) return undefined;
  const interp = phdrs.find((p) => p.type === PT_INTERP);
  const info: ElfDynamicInfo = { needed: [], rpath: [], runpath: [] };
  if (interp) info.interpreter = cString(buf, interp.offset, interp.offset + interp.filesz, file, 'PT_INTERP');

  if (dyn.offset + dyn.filesz > buf.length) throw new ElfTruncatedError(file, 'the dynamic section', dyn.offset + dyn.filesz, buf.length);
  const entries: { tag: number; val: number }[] = [];
  for (let at = dyn.offset; at + 16 <= dyn.offset + dyn.filesz; at += 16) {
    const tag = Number(buf.readBigInt64LE(at));
    if (tag === DT_NULL) break;
    entries.push({ tag, val: Number(buf.readBigUInt64LE(at + 8)) });
  }
  const strtabAddr = entries.find((e) => e.tag === DT_STRTAB)?.val;
  const strsz = entries.find((e) => e.tag === DT_STRSZ)?.val;
  const wantsStrings = entries.some((e) => e.tag === DT_NEEDED || e.tag === DT_RPATH || e.tag === DT_RUNPATH);
  if (!wantsStrings) return info;
  if (strtabAddr === undefined || strsz === undefined) throw new ElfHeaderError(file, 'the dynamic section names libraries but has no DT_STRTAB or DT_STRSZ');
  // DT_STRTAB is an address: find the file offset through the PT_LOAD that maps it.
  const load = phdrs.find((p) => p.type === PT_LOAD && strtabAddr >= p.vaddr && strtabAddr < p.vaddr + p.filesz);
  if (!load) throw new ElfHeaderError(file, `DT_STRTAB 0x${strtabAddr.toString(16)} lies in no loaded segment`);
  const strtab = load.offset + (strtabAddr - load.vaddr);
  const str = (off: number, what: string): string => {
    if (off >= strsz) throw new ElfHeaderError(file, `${what} points past the dynamic string table`);
    return cString(buf, strtab + off, strtab + strsz, file, what);
  };
  for (const e of entries) {
    if (e.tag === DT_NEEDED) info.needed.push(str(e.val, 'DT_NEEDED'));
    else if (e.tag === DT_RPATH) info.rpath.push(...str(e.val, 'DT_RPATH').split(':').filter((d) => d !== ''));
    else if (e.tag === DT_RUNPATH) info.runpath.push(...str(e.val, 'DT_RUNPATH').split(':').filter((d) => d !== ''));
  }
  return info;
}

function cString(buf: Buffer, start: number, limit: number, file: string, what: string): string {
  const end = Math.min(limit, buf.length);
  if (start >= end) throw new ElfTruncatedError(file, what, start + 1, buf.length);
  const nul = buf.indexOf(0, start);
  return buf.subarray(start, nul === -1 || nul > end ? end : nul).toString('latin1');
}
