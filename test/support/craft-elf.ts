/**
 * Builds small ELF files byte by byte, for tests of the checks that reject (or accept) them.
 * The files are well formed except for what a test asks to break.
 */
export interface CraftSegment {
  type?: number; // PT_LOAD by default
  flags?: number;
  offset: number;
  vaddr: number;
  filesz: number;
  memsz: number;
  align?: number;
}

export interface CraftSection {
  name: string;
  type: number;
  flags?: number;
  addr?: number;
  offset: number;
  size: number;
  link?: number;
}

/** A section header table, with a name table, appended to the file (section 0 is SHT_NULL). */
export interface CraftSections {
  sections: CraftSection[];
  /** Overrides of the header fields, to break them. */
  shoff?: number;
  shentsize?: number;
  shnum?: number;
  shstrndx?: number;
}

export interface CraftOptions {
  elfClass?: number; // 2 = 64-bit
  data?: number; // 1 = little-endian
  type?: number; // 2 = ET_EXEC
  machine?: number; // 62 = x86-64
  entry?: number;
  segments: CraftSegment[];
  /** Bytes the file holds after the program headers; the file is cut to `length` if given. */
  fileSize?: number;
  interp?: string;
  sectionTable?: CraftSections;
}

export function craftElf(o: CraftOptions): Buffer {
  const phoff = 64;
  const headerEnd = phoff + 56 * o.segments.length;
  const maxSeg = Math.max(0, ...o.segments.map((s) => s.offset + s.filesz));
  const size = o.fileSize ?? Math.max(headerEnd, maxSeg);
  const buf = Buffer.alloc(Math.max(size, headerEnd));
  buf.writeUInt32BE(0x7f454c46, 0);
  buf[4] = o.elfClass ?? 2;
  buf[5] = o.data ?? 1;
  buf[6] = 1; // EV_CURRENT
  buf.writeUInt16LE(o.type ?? 2, 16);
  buf.writeUInt16LE(o.machine ?? 62, 18);
  buf.writeUInt32LE(1, 20);
  buf.writeBigUInt64LE(BigInt(o.entry ?? (o.segments[0]?.vaddr ?? 0)), 24);
  buf.writeBigUInt64LE(BigInt(phoff), 32);
  buf.writeUInt16LE(64, 52);
  buf.writeUInt16LE(56, 54);
  buf.writeUInt16LE(o.segments.length, 56);
  o.segments.forEach((s, i) => {
    const at = phoff + i * 56;
    buf.writeUInt32LE(s.type ?? 1, at);
    buf.writeUInt32LE(s.flags ?? 5, at + 4);
    buf.writeBigUInt64LE(BigInt(s.offset), at + 8);
    buf.writeBigUInt64LE(BigInt(s.vaddr), at + 16);
    buf.writeBigUInt64LE(BigInt(s.vaddr), at + 24);
    buf.writeBigUInt64LE(BigInt(s.filesz), at + 32);
    buf.writeBigUInt64LE(BigInt(s.memsz), at + 40);
    buf.writeBigUInt64LE(BigInt(s.align ?? 0x1000), at + 48);
  });
  if (o.interp !== undefined) {
    const seg = o.segments.find((s) => s.type === 3);
    if (seg) buf.write(o.interp + '\0', seg.offset, 'latin1');
  }
  const out = o.fileSize !== undefined ? buf.subarray(0, o.fileSize) : buf;
  return o.sectionTable ? withSections(out, o.sectionTable) : out;
}

/**
 * `buf` with a section name table and a section header table appended: entry 0 is SHT_NULL,
 * then `t.sections`, then .shstrtab (the last one, e_shstrndx).
 */
function withSections(buf: Buffer, t: CraftSections): Buffer {
  const names = ['', ...t.sections.map((s) => s.name), '.shstrtab'];
  const nameOffsets: number[] = [];
  let strtab = '';
  for (const n of names) {
    nameOffsets.push(n === '' ? 0 : strtab.length);
    strtab += n === '' ? (strtab === '' ? '\0' : '') : n + '\0';
  }
  const strOffset = buf.length;
  const tableOffset = Math.ceil((strOffset + strtab.length) / 8) * 8;
  const count = t.sections.length + 2;
  const out = Buffer.alloc(tableOffset + count * 64);
  buf.copy(out);
  out.write(strtab, strOffset, 'latin1');
  const entries: CraftSection[] = [
    { name: '', type: 0, offset: 0, size: 0 },
    ...t.sections,
    { name: '.shstrtab', type: 3, offset: strOffset, size: strtab.length },
  ];
  entries.forEach((s, i) => {
    const at = tableOffset + i * 64;
    out.writeUInt32LE(nameOffsets[i] ?? 0, at);
    out.writeUInt32LE(s.type, at + 4);
    out.writeBigUInt64LE(BigInt(s.flags ?? 0), at + 8);
    out.writeBigUInt64LE(BigInt(s.addr ?? 0), at + 16);
    out.writeBigUInt64LE(BigInt(s.offset), at + 24);
    out.writeBigUInt64LE(BigInt(s.size), at + 32);
    out.writeUInt32LE(s.link ?? 0, at + 40);
  });
  out.writeBigUInt64LE(BigInt(t.shoff ?? tableOffset), 40);
  out.writeUInt16LE(t.shentsize ?? 64, 58);
  out.writeUInt16LE(t.shnum ?? count, 60);
  out.writeUInt16LE(t.shstrndx ?? count - 1, 62);
  return out;
}

/** A plausible static ET_EXEC: one text segment at 0x400000 and one data+bss segment. */
export function staticExec(overrides: Partial<CraftOptions> = {}): Buffer {
  return craftElf({
    entry: 0x401000,
    segments: [
      { offset: 0, vaddr: 0x400000, filesz: 0x1100, memsz: 0x1100, flags: 5 },
      { offset: 0x1100, vaddr: 0x402100, filesz: 0x100, memsz: 0x3000, flags: 6 },
    ],
    ...overrides,
  });
}
