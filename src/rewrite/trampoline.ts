/**
 * One trampoline: the instructions moved out of the window (re-encoded for their new address by
 * iced-x86's BlockEncoder, which fixes RIP-relative operands and branches), the direct call of
 * the kernel's fast-mode entry in place of the `syscall`, and the jump back:
 *
 *     <moved instructions before the site>
 *     lea  rsp, [rsp-128]          ; step over the red zone: the call pushes a return address
 *     mov  r11, ENTRY              ; UNIKIT_FAST_SYSCALL_ENTRY; r11 is the syscall's to clobber
 *     call r11
 *     lea  rsp, [rsp+128]          ; lea, not add: the flags stay as the entry left them
 *     <moved instructions after the site>
 *     jmp  <end of the window>
 */
import { BlockEncoder, BlockEncoderOptions, Code, Instruction, type Instruction as IcedInstruction } from 'iced-x86';
import { decodeOne, type Window } from './plan.js';

/** The call sequence for `entry`: 26 bytes, position-independent. */
export function callSequence(entry: bigint): Buffer {
  const movabs = Buffer.alloc(10);
  movabs[0] = 0x49;
  movabs[1] = 0xbb; // mov r11, imm64
  movabs.writeBigUInt64LE(entry, 2);
  return Buffer.concat([
    Buffer.from([0x48, 0x8d, 0x64, 0x24, 0x80]), // lea rsp, [rsp-0x80]
    movabs,
    Buffer.from([0x41, 0xff, 0xd3]), // call r11
    Buffer.from([0x48, 0x8d, 0xa4, 0x24, 0x80, 0x00, 0x00, 0x00]), // lea rsp, [rsp+0x80]
  ]);
}

/** The trampoline of `window` placed at `address`; throws when an instruction cannot be moved. */
export function encodeTrampoline(window: Window, address: number, entry: bigint): Buffer {
  const head = relocate(window.before.map(decodeOne), address);
  const call = callSequence(entry);
  const tailAddress = address + head.length + call.length;
  const back = Instruction.createBranch(Code.Jmp_rel32_64, BigInt(window.end));
  const tail = relocate([...window.after.map(decodeOne), back], tailAddress);
  return Buffer.concat([head, call, tail]);
}

function relocate(instructions: IcedInstruction[], address: number): Buffer {
  if (instructions.length === 0) return Buffer.alloc(0);
  const encoder = new BlockEncoder(64, BlockEncoderOptions.None);
  try {
    for (const i of instructions) encoder.add(i);
    return Buffer.from(encoder.encode(BigInt(address)));
  } finally {
    encoder.free();
    for (const i of instructions) i.free();
  }
}

/** The 5-byte `jmp rel32` from `from` to `to`, or undefined when `to` is out of rel32 reach. */
export function jmpRel32(from: number, to: number): Buffer | undefined {
  const rel = to - (from + 5);
  if (rel < -0x8000_0000 || rel > 0x7fff_ffff) return undefined;
  const b = Buffer.alloc(5);
  b[0] = 0xe9;
  b.writeInt32LE(rel, 1);
  return b;
}
