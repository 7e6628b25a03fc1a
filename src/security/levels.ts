/**
 * Security levels and the mechanisms they turn on: one table, the single source for
 * docs/security.md, `unikit build --level`, the TOSCA unikit.policies.Security policy and the
 * attack tests (test/e2e/attacks.test.ts). Each mechanism is enforced by the guest kernel (a
 * command-line flag), by the build (what goes into the image), or by unikitd.
 */

export const LEVELS = ['low', 'medium', 'high', 'strict'] as const;
export type Level = (typeof LEVELS)[number];

export const MECHANISMS = ['isolation', 'nx', 'wx', 'aslr', 'signed', 'ro', 'syscalls', 'network'] as const;
export type Mechanism = (typeof MECHANISMS)[number];

/** The kernel command-line flags a level may set (docs/guest-abi.md; src/vmm's KernelFlag). */
export type SecurityFlag = 'fast' | 'execdata' | 'wx' | 'aslr' | 'ro' | 'strict';

export type Enforcer = 'kernel' | 'build' | 'build+kernel' | 'build+run' | 'unikitd';

export interface MechanismInfo {
  name: Mechanism;
  /** What it guarantees, for the docs. */
  what: string;
  enforcedBy: Enforcer;
  /** How: the kernel flag or build step. */
  how: string;
  /** On at these levels by default. */
  on: Record<Level, boolean>;
  /** Levels at which an override may turn it off (never below what the row says). */
  mayTurnOffAt: readonly Level[];
  /** The attack program in apps/attacks that shows it (apps/build/attack-<name>). */
  attack?: string;
}

const all = (v: boolean): Record<Level, boolean> => ({ low: v, medium: v, high: v, strict: v });
const from = (first: Level): Record<Level, boolean> =>
  Object.fromEntries(LEVELS.map((l) => [l, LEVELS.indexOf(l) >= LEVELS.indexOf(first)])) as Record<Level, boolean>;

/** The table. Order is the docs' order. */
export const MECHANISM_TABLE: readonly MechanismInfo[] = [
  {
    name: 'isolation',
    what: 'the program runs in ring 3 and kernel memory is supervisor-only: reading a kernel address ends the program with a fault report (SIGSEGV, 139), not a kernel crash',
    enforcedBy: 'kernel',
    how: 'the default; off means the `fast` flag (ring 0, syscall sites rewritten to direct calls): allowed only at low',
    on: from('medium'),
    mayTurnOffAt: ['low'],
    attack: 'kread',
  },
  {
    name: 'nx',
    what: 'data pages (stack, heap, mmap without PROT_EXEC) are not executable: code written there faults (139)',
    enforcedBy: 'kernel',
    how: 'the default; off means the `execdata` flag (as on a CPU without NX): allowed only at low',
    on: from('medium'),
    mayTurnOffAt: ['low'],
    attack: 'execdata',
  },
  {
    name: 'wx',
    what: 'W^X: mmap or mprotect asking for writable and executable memory at once fails with EACCES',
    enforcedBy: 'kernel',
    how: '`wx` flag',
    on: from('medium'),
    mayTurnOffAt: ['low', 'medium', 'high'],
    attack: 'wx',
  },
  {
    name: 'aslr',
    what: 'static-PIE load base, stack, heap start and mmap base are random on each boot',
    enforcedBy: 'kernel',
    how: '`aslr` flag (boot seed from the host)',
    on: from('medium'),
    mayTurnOffAt: ['low', 'medium', 'high'],
    attack: 'aslr',
  },
  {
    name: 'signed',
    what: 'ed25519 signature over kernel.elf, initrd.cpio and manifest.json; a tampered image is refused before boot',
    enforcedBy: 'build+run',
    how: '`unikit build` signs with the key in $UNIKIT_HOME/keys; `unikit run` and unikitd verify (unikitd at registration and before each boot; `--require-signed` refuses unsigned images)',
    on: from('medium'),
    mayTurnOffAt: ['low', 'medium', 'high'],
  },
  {
    name: 'ro',
    what: 'the root filesystem is read-only: writing under / fails with EROFS (/tmp stays writable)',
    enforcedBy: 'kernel',
    how: '`ro` flag',
    on: from('high'),
    mayTurnOffAt: ['low', 'medium', 'high'],
    attack: 'rootwrite',
  },
  {
    name: 'syscalls',
    what: 'syscall allowlist = the statically analyzed set: a syscall outside it stops the VM (SIGSYS, 159) and is logged (below high it fails with ENOSYS and the program goes on)',
    enforcedBy: 'build+kernel',
    how: 'the per-program kernel `unikit build` makes (only the analyzed syscalls; `--general` is refused at high and strict), and the `strict` flag',
    on: from('high'),
    mayTurnOffAt: ['low', 'medium', 'high'],
    attack: 'hiddensys',
  },
  {
    name: 'network',
    what: 'with a declared policy (`--listen`, `--egress`; unikit.policies.Network through the orchestrator), the program binds and listens only on declared ports and connects or sends only to declared targets: anything else fails with EACCES and is logged',
    enforcedBy: 'kernel',
    how: '`netpolicy` flag with `listen=` and `egress=` (the guest stack checks bind, listen, connect and sendto); on the host, QEMU forwards only declared ports and, with no egress declared (and no UDP forward), runs user networking with restrict=on; on a tap, per-tap nftables rules allow only the declared ports and targets and keep bridges apart; in a deployment, each service\'s fronts admit only the ingress rules\' sources. At low the program runs in ring 0 and could get around the kernel\'s check: only the host side holds there',
    on: all(true),
    mayTurnOffAt: [],
    attack: 'netpolicy',
  },
];

export function mechanismInfo(m: Mechanism): MechanismInfo {
  return MECHANISM_TABLE.find((r) => r.name === m) as MechanismInfo;
}

export type SecurityErrorCode = 'SECURITY_UNKNOWN_LEVEL' | 'SECURITY_UNKNOWN_MECHANISM' | 'SECURITY_OVERRIDE_REFUSED';

export class SecurityError extends Error {
  constructor(readonly code: SecurityErrorCode, message: string) {
    super(message);
    this.name = 'SecurityError';
  }
}

export function isLevel(s: unknown): s is Level {
  return typeof s === 'string' && (LEVELS as readonly string[]).includes(s);
}

export function parseLevel(s: string): Level {
  if (!isLevel(s)) throw new SecurityError('SECURITY_UNKNOWN_LEVEL', `unknown security level ${JSON.stringify(s)}: use one of ${LEVELS.join(', ')}`);
  return s;
}

export function isMechanism(s: unknown): s is Mechanism {
  return typeof s === 'string' && (MECHANISMS as readonly string[]).includes(s);
}

export type Overrides = Partial<Record<Mechanism, boolean>>;

/** What a level with its overrides means for the build and the boot. */
export interface SecurityPlan {
  level: Level;
  mechanisms: Record<Mechanism, boolean>;
  /** Kernel command-line flags to boot with, in table order. */
  flags: SecurityFlag[];
  /** Build-time steps. */
  build: {
    /** Sign kernel.elf, initrd.cpio and manifest.json. */
    sign: boolean;
    /** A per-program kernel with only the analyzed syscalls (needed for the `strict` flag to bite). */
    syscallAllowlist: boolean;
    /** Fast mode: the program's syscall sites may be rewritten to direct calls. */
    fast: boolean;
  };
  /** Mechanisms an override turned off that the level turns on: recorded, for the audit. */
  weakened: Mechanism[];
  /** Mechanisms an override turned on beyond the level. */
  strengthened: Mechanism[];
}

/**
 * The plan for `level` with per-mechanism `overrides`. Any override may turn a mechanism on;
 * turning one off is refused at strict, and for isolation (fast mode) and nx (execdata) above
 * low; network policy cannot be turned off.
 */
export function planSecurity(level: Level | string, overrides: Overrides | Record<string, unknown> = {}): SecurityPlan {
  const lv = parseLevel(level);
  const mechanisms = Object.fromEntries(MECHANISM_TABLE.map((r) => [r.name, r.on[lv]])) as Record<Mechanism, boolean>;
  const weakened: Mechanism[] = [];
  const strengthened: Mechanism[] = [];
  for (const [name, value] of Object.entries(overrides)) {
    if (value === undefined) continue;
    if (!isMechanism(name)) {
      throw new SecurityError('SECURITY_UNKNOWN_MECHANISM', `unknown security mechanism ${JSON.stringify(name)}: use one of ${MECHANISMS.join(', ')}`);
    }
    if (typeof value !== 'boolean') {
      throw new SecurityError('SECURITY_OVERRIDE_REFUSED', `the override of ${name} must be true or false, not ${JSON.stringify(value)}`);
    }
    const info = mechanismInfo(name);
    const base = info.on[lv];
    if (value === base) continue;
    if (value) {
      strengthened.push(name);
    } else {
      if (!info.mayTurnOffAt.includes(lv)) {
        const where = info.mayTurnOffAt.length === 0 ? 'at any level' : `at level ${lv} (only at ${info.mayTurnOffAt.join(', ')})`;
        throw new SecurityError('SECURITY_OVERRIDE_REFUSED', `${name} cannot be turned off ${where}`);
      }
      weakened.push(name);
    }
    mechanisms[name] = value;
  }
  const flags: SecurityFlag[] = [];
  if (!mechanisms.isolation) flags.push('fast');
  if (!mechanisms.nx) flags.push('execdata');
  if (mechanisms.wx) flags.push('wx');
  if (mechanisms.aslr) flags.push('aslr');
  if (mechanisms.ro) flags.push('ro');
  if (mechanisms.syscalls) flags.push('strict');
  return {
    level: lv,
    mechanisms,
    flags,
    build: { sign: mechanisms.signed, syscallAllowlist: mechanisms.syscalls, fast: !mechanisms.isolation },
    weakened,
    strengthened,
  };
}

/** The level table as markdown: docs/security.md embeds it (a test keeps the two equal). */
export function levelTableMarkdown(): string {
  const mark = (b: boolean): string => (b ? 'on' : '—');
  const rows = MECHANISM_TABLE.map((r) =>
    `| \`${r.name}\` | ${r.what} | ${r.enforcedBy}: ${r.how} | ${LEVELS.map((l) => mark(r.on[l])).join(' | ')} | ${r.attack ? `\`attack-${r.attack}\`` : '—'} |`);
  return [
    `| mechanism | what it guarantees | enforced by | ${LEVELS.join(' | ')} | attack |`,
    `|---|---|---|${LEVELS.map(() => ':-:').join('|')}|---|`,
    ...rows,
  ].join('\n') + '\n';
}
