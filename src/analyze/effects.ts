/**
 * What one instruction does to the general-purpose registers, in the terms backward data-flow
 * needs: a register becomes a constant, a copy of another register plus a constant, the value
 * a matching push left on the stack, or something this analysis does not follow (a load from
 * memory, a call's return value, arithmetic). Registers are named by family (0 = rax ... 15 =
 * r15): a write to eax or al is a write to the rax family. Only writes matter; a register an
 * instruction does not write keeps its value.
 */
import { Code, InstructionInfoFactory, Mnemonic, OpAccess, OpKind, Register, RegisterExt, type Instruction } from 'iced-x86';

export type RegisterEffect =
  | { kind: 'const'; value: number }
  | { kind: 'copy'; from: number; add: number }
  /** `pop r64`: the value is whatever the nearest push stored (resolved by data-flow). */
  | { kind: 'pop' }
  | { kind: 'unknown'; why: string };

/** The registers an instruction writes, with what they become. Unlisted registers are kept. */
export type InstructionEffects = Map<number, RegisterEffect>;

export const RAX = 0;
export const RCX = 1;
export const RDX = 2;
export const RBX = 3;
export const RSP = 4;
export const RBP = 5;
export const RSI = 6;
export const RDI = 7;
export const R8 = 8;
export const R9 = 9;
export const R10 = 10;
export const R11 = 11;
export const REGISTER_NAMES = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'];

/** The registers the System V ABI lets a called function change (rax holds its result). */
const CALLER_SAVED = [RAX, RCX, RDX, RSI, RDI, R8, R9, R10, R11];

/** Register family of every iced Register value, -1 for non-GPRs. */
const FAMILY: Int8Array = (() => {
  const table = new Int8Array(Register.DontUseFF + 1).fill(-1);
  for (let r = 0; r < table.length; r++) {
    if (RegisterExt.isGPR(r)) table[r] = RegisterExt.number(RegisterExt.fullRegister(r));
  }
  return table;
})();

/** The family of an iced register, or -1 when it is not a general-purpose register. */
export function familyOf(register: Register): number {
  return FAMILY[register] ?? -1;
}

let infoFactory: InstructionInfoFactory | undefined;

/**
 * The effects of `instr` on the general-purpose registers. `text` formats the instruction for
 * the explanation of an unknown value; it is only called when one is produced.
 */
export function instructionEffects(instr: Instruction, text: () => string): InstructionEffects {
  const effects: InstructionEffects = new Map();
  const code = instr.code;
  if (code === Code.Syscall) {
    effects.set(RAX, { kind: 'unknown', why: 'the result of a previous syscall' });
    effects.set(RCX, { kind: 'unknown', why: 'clobbered by a previous syscall' });
    effects.set(R11, { kind: 'unknown', why: 'clobbered by a previous syscall' });
    return effects;
  }
  if (instr.isCallNear || instr.isCallNearIndirect || instr.isCallFar || instr.isCallFarIndirect) {
    const why = `the result of \`${text()}\``;
    for (const r of CALLER_SAVED) effects.set(r, { kind: 'unknown', why: r === RAX ? why : `clobbered by \`${text()}\`` });
    return effects;
  }
  const known = knownEffect(instr);
  if (known) {
    effects.set(known.family, known.effect);
    if (known.alsoFamily !== undefined && known.alsoEffect) effects.set(known.alsoFamily, known.alsoEffect);
    return effects;
  }
  // Anything else: every GPR it may write becomes unknown. iced lists implicit writes too
  // (cpuid, div, rep movs, ...), so nothing that changes a register slips through.
  infoFactory ??= new InstructionInfoFactory();
  const info = infoFactory.info(instr);
  // usedRegisters() is typed Array<any> by wasm-bindgen; its elements are UsedRegister objects.
  const used = info.usedRegisters() as { register: Register; access: OpAccess; free(): void }[];
  const how = readsMemory(instr) ? 'loaded from memory by' : 'computed by';
  for (const u of used) {
    const family = familyOf(u.register);
    const writes = u.access === OpAccess.Write || u.access === OpAccess.CondWrite
      || u.access === OpAccess.ReadWrite || u.access === OpAccess.ReadCondWrite;
    if (family >= 0 && family !== RSP && writes) effects.set(family, { kind: 'unknown', why: `${how} \`${text()}\`` });
    u.free();
  }
  info.free();
  return effects;
}

/** True when an operand of `instr` is in memory (lea computes an address and reads nothing). */
function readsMemory(instr: Instruction): boolean {
  if (instr.mnemonic === Mnemonic.Lea) return false;
  for (let op = 0; op < instr.opCount; op++) if (instr.opKind(op) === OpKind.Memory) return true;
  return false;
}

interface KnownEffect {
  family: number;
  effect: RegisterEffect;
  alsoFamily?: number;
  alsoEffect?: RegisterEffect;
}

/** The instruction forms data-flow follows exactly. */
function knownEffect(instr: Instruction): KnownEffect | undefined {
  if (instr.op0Kind !== OpKind.Register) return undefined;
  const dst = familyOf(instr.op0Register);
  if (dst < 0) return undefined;
  const srcRegister = (): number => (instr.op1Kind === OpKind.Register ? familyOf(instr.op1Register) : -1);
  const imm = (): number => Number(BigInt.asIntN(64, instr.immediate(1)));
  switch (instr.code) {
    case Code.Mov_r32_imm32:
    case Code.Mov_rm32_imm32:
      return { family: dst, effect: { kind: 'const', value: instr.immediate32 >>> 0 } };
    case Code.Mov_r64_imm64:
    case Code.Mov_rm64_imm32:
      return { family: dst, effect: { kind: 'const', value: imm() } };
    case Code.Mov_r32_rm32:
    case Code.Mov_rm32_r32:
    case Code.Mov_r64_rm64:
    case Code.Mov_rm64_r64:
    case Code.Movsxd_r64_rm32: {
      const src = srcRegister();
      return src >= 0 ? { family: dst, effect: { kind: 'copy', from: src, add: 0 } } : undefined;
    }
    case Code.Xor_r32_rm32:
    case Code.Xor_rm32_r32:
    case Code.Xor_r64_rm64:
    case Code.Xor_rm64_r64:
    case Code.Sub_r32_rm32:
    case Code.Sub_rm32_r32:
    case Code.Sub_r64_rm64:
    case Code.Sub_rm64_r64:
      // x ^ x and x - x are the compilers' way of writing zero; other operands are arithmetic.
      return srcRegister() === dst ? { family: dst, effect: { kind: 'const', value: 0 } } : undefined;
    case Code.Lea_r32_m:
    case Code.Lea_r64_m:
      return leaEffect(instr, dst);
    case Code.Add_rm32_imm8:
    case Code.Add_rm64_imm8:
    case Code.Add_rm32_imm32:
    case Code.Add_rm64_imm32:
    case Code.Add_EAX_imm32:
    case Code.Add_RAX_imm32:
      return { family: dst, effect: { kind: 'copy', from: dst, add: imm() } };
    case Code.Sub_rm32_imm8:
    case Code.Sub_rm64_imm8:
    case Code.Sub_rm32_imm32:
    case Code.Sub_rm64_imm32:
    case Code.Sub_EAX_imm32:
    case Code.Sub_RAX_imm32:
      return { family: dst, effect: { kind: 'copy', from: dst, add: -imm() } };
    case Code.Or_rm32_imm8:
    case Code.Or_rm64_imm8:
      // `or r, -1` is the short way to load -1.
      return imm() === -1 ? { family: dst, effect: { kind: 'const', value: instr.code === Code.Or_rm32_imm8 ? 0xffffffff : -1 } } : undefined;
    case Code.Xchg_r32_EAX:
    case Code.Xchg_r64_RAX:
    case Code.Xchg_rm32_r32:
    case Code.Xchg_rm64_r64: {
      const src = srcRegister();
      if (src < 0) return undefined;
      return { family: dst, effect: { kind: 'copy', from: src, add: 0 }, alsoFamily: src, alsoEffect: { kind: 'copy', from: dst, add: 0 } };
    }
    case Code.Pop_r64:
      return { family: dst, effect: { kind: 'pop' } };
    default:
      return undefined;
  }
}

/** `lea r, [base + disp]` is r = base + disp; `lea r, [rip + disp]` and `[disp]` are constants. */
function leaEffect(instr: Instruction, dst: number): KnownEffect | undefined {
  if (instr.memoryIndex !== Register.None) return undefined;
  const disp = Number(BigInt.asIntN(64, instr.memoryDisplacementU64));
  const base = instr.memoryBase;
  if (base === Register.None || base === Register.RIP) return { family: dst, effect: { kind: 'const', value: disp } };
  const from = familyOf(base);
  return from >= 0 ? { family: dst, effect: { kind: 'copy', from, add: disp } } : undefined;
}

/** The value a `push` stores, for `push imm; pop r` pairs. */
export function pushedValue(instr: Instruction): RegisterEffect | undefined {
  switch (instr.code) {
    case Code.Pushq_imm8:
    case Code.Pushq_imm32:
      return { kind: 'const', value: Number(BigInt.asIntN(64, instr.immediate(0))) };
    case Code.Push_r64: {
      const from = familyOf(instr.op0Register);
      return from >= 0 ? { kind: 'copy', from, add: 0 } : undefined;
    }
    default:
      return undefined;
  }
}
