/**
 * The kernel log (the debugcon stream), line by line: "@" lines are markers for the host,
 * "unikit: " lines are messages for the user, the rest is the kernel's own chatter.
 */
import { StringDecoder } from 'node:string_decoder';
import { EXIT_REASONS, type ExitReason, UNIKIT_ABI, syscallTable } from '../abi/index.js';

/** What the guest's network policy refused (the `@netpolicy` marker). */
export type NetPolicyOp = 'bind' | 'listen' | 'connect' | 'send';

export type KlogEvent =
  | { kind: 'entering' }
  | { kind: 'exit'; status: number; reason: ExitReason | string }
  | { kind: 'user'; text: string }
  /** The guest's network policy refused a call (docs/guest-abi.md): for the audit. */
  | { kind: 'netpolicy'; op: NetPolicyOp; proto: 'tcp' | 'udp'; host: string; port: number }
  | { kind: 'marker'; text: string }
  | { kind: 'log'; text: string };

export function classifyKlogLine(line: string): KlogEvent {
  if (line === UNIKIT_ABI.MARK_ENTERING) return { kind: 'entering' };
  if (line.startsWith(UNIKIT_ABI.MARK_EXIT + ' ')) {
    const m = /^@exit (\d+) (\S+)/.exec(line);
    if (m) return { kind: 'exit', status: Number(m[1]) & 0xff, reason: m[2] as string };
  }
  if (line.startsWith(UNIKIT_ABI.MARK_NETPOLICY + ' ')) {
    const m = /^@netpolicy (bind|listen|connect|send) (tcp|udp) (\d+\.\d+\.\d+\.\d+):(\d+)$/.exec(line);
    if (m) return { kind: 'netpolicy', op: m[1] as NetPolicyOp, proto: m[2] as 'tcp' | 'udp', host: m[3] as string, port: Number(m[4]) };
  }
  if (line.startsWith('@')) return { kind: 'marker', text: line };
  if (line.startsWith(UNIKIT_ABI.KLOG_USER_PREFIX)) return { kind: 'user', text: nameSyscalls(line) };
  return { kind: 'log', text: line };
}

/**
 * A per-program kernel carries no syscall names and writes "syscall 41 (?)" or "last syscall:
 * 41 (?)"; the host, which has the table, puts the name in.
 */
export function nameSyscalls(line: string): string {
  if (!line.includes('(?)')) return line;
  return line.replace(/(syscall:? )(\d+) \(\?\)/g, (whole, lead: string, nr: string) => {
    const name = syscallTable().name(Number(nr));
    return name ? `${lead}${nr} (${name})` : whole;
  });
}

export function isKnownReason(reason: string): reason is ExitReason {
  return (EXIT_REASONS as readonly string[]).includes(reason);
}

/** Splits the byte stream into lines; keeps the last `keep` for crash reports. */
export class KlogReader {
  private readonly decoder = new StringDecoder('utf8');
  private partial = '';
  readonly tail: string[] = [];
  sawAnything = false;

  constructor(private readonly onLine: (line: string, event: KlogEvent) => void, private readonly keep = 20) {}

  feed(chunk: Buffer): void {
    if (chunk.length) this.sawAnything = true;
    const text = this.partial + this.decoder.write(chunk);
    const lines = text.split('\n');
    this.partial = lines.pop() ?? '';
    for (const l of lines) this.line(l.replace(/\r$/, ''));
  }

  end(): void {
    const rest = this.partial + this.decoder.end();
    this.partial = '';
    if (rest !== '') this.line(rest);
  }

  private line(l: string): void {
    this.tail.push(l);
    if (this.tail.length > this.keep) this.tail.shift();
    this.onLine(l, classifyKlogLine(l));
  }
}
