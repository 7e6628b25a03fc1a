/** Errors in how unikit was called, and the help text. */
export class UsageError extends Error {
  readonly code = 'USAGE';
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export const HELP = `unikit: run an unmodified static Linux x86-64 program as a unikernel under QEMU

usage:
  unikit build <elf> [--file HOST[:GUEST]]... [--env K=V]... [--mem SIZE] [-o DIR]
               [--general | --profile FILE] [--strict] [--force] [--fast]
               [--net user|tap|none] [-p HOST:GUEST[/udp]]... [--listen PORT]... [--egress HOST:PORT]...
               [-- ARGS...]
      make an image directory (kernel.elf, initrd.cpio, manifest.json). The kernel is built for
      the program's syscalls (static analysis, plus those a "trace --json" FILE lists); --general
      packs the general kernel instead. A program that may make a syscall unikit lacks is refused
      unless --force. --strict: a syscall outside the set stops the VM (status 159). --fast: the
      syscall sites are rewritten into direct calls and the program runs in ring 0.
      --level low|medium|high|strict [--override MECHANISM=on|off]...: the security level's
      mechanisms (docs/security.md); medium and up sign the image, which run verifies.
      --listen PORT, --egress A.B.C.D[/LEN]:PORT|* (repeatable; none declares nothing): a network
      policy the guest kernel enforces at every level; the program may bind only those ports and
      connect or send only there (EACCES otherwise, logged). Recorded in the image.
      --kernel linux [--file ..] [--env ..] [-- ARGS]: instead, a Linux microVM image: the program
      as PID 1 of an initramfs for Debian's cloud kernel (fetched with apt-get download into
      $UNIKIT_HOME/linux), a dynamically linked one with its interpreter and libraries from the
      host; unikit run boots it on q35 (--mem default 128M, at least 64M; --net user or none).
  unikit run <image-dir|elf> [--mem SIZE] [--accel auto|kvm|tcg] [--machine microvm|q35]
             [--env K=V]... [--file HOST[:GUEST]]... [--verbose] [--time] [--timeout SECONDS]
             [--net user|tap|none] [-p HOST:GUEST[/udp]]... [--listen PORT]... [--egress HOST:PORT]...
             [--fast] [-- ARGS...]
      boot it, stream its output, exit with its status (an ELF is packed on the fly)
      --net user: QEMU user networking, the guest is 10.0.2.15 and sees the host as 10.0.2.2;
      -p forwards 127.0.0.1:HOST to the guest's port (tcp, or /udp). --net tap (root): a tap on
      the bridge unikit0 (10.77.0.1/16) and an address of the guest's own, printed at start.
      --net none: loopback only. Without them: what the image records (build --net, -p), else
      user networking unless the image's kernel serves no socket call. --fast (with an ELF): its syscall sites
      rewritten into direct calls, in ring 0. --listen/--egress replace the image's network
      policy; ports -p forwards count as declared; with no egress (and no UDP -p) QEMU also runs
      restrict=on; with --net tap the host also fences the tap by it (nftables, when installed).
  unikit inspect <image-dir> [--json]
      show what an image holds (its manifest.json; for a --kernel linux image, its linux.json:
      kernel package, program, argv, env, packed libraries, sizes)
  unikit analyze <elf> [--json]
      the syscalls the program may make, found statically, and what unikit does with each
  unikit trace <image-dir|elf> [--json] [--env K=V]... [--file HOST[:GUEST]]... [-- ARGS...]
      run it once recording its syscalls; print the set the workload made (its output goes to
      stderr); --json writes the profile for build --profile
  unikit validate <template.yaml> [--json] [--input NAME=VALUE]...
      check a TOSCA 1.3 service template against the unikit profile (profiles/unikit.yaml)
  unikit deploy <template.yaml> [--tenant T] [--name N] [--input NAME=VALUE]... [--json]
      deploy it onto unikitd, all or nothing: hardened, signed images built per level (cached),
      one front per service (and per allowed source node under Network ingress rules, whose
      external front admits only their addresses), instances booted and wired; prints the outputs
  unikit undeploy NAME [--tenant T]     unikit status [NAME] [--tenant T] [--json]
      status: services, levels, fronts, ingress, instances (the standby marked)
  unikit event KIND [--syscall S] [--instance ID] [--deployment D [--service S]] [--tenant T] [--json]
      a security event (vulnerability in a syscall, intrusion on an instance): the affected
      services are raised to their Security trigger's level and their instances replaced one at
      a time, no request dropped (unikit event --help)
  unikit scale NAME SERVICE N [--tenant T] [--json]
      N instances of the service, within its Scaling policy: promotes the standby or boots the
      image built at deploy; a scale-in drains the newest
  unikit tenant add NAME [--max-instances N] [--max-memory SIZE] [--json] | tenant ls | tenant rm NAME | tenant token NAME
      unikitd's tenants (admin): an API token each (printed once), quotas, a tap bridge of its own
  unikit audit [--tenant T] [--since N] [--kind K] [--limit N] [--json]
      unikitd's append-only audit log: registrations, refusals, blocked attacks, level changes
      (the unikitd commands: unikit daemon --help)
  unikit keys [--json]
      this host's image-signing key (ed25519, under $UNIKIT_HOME/keys)
  unikit bench [--suite boot|latency|memory|all] [--out DIR] [--runs N] [--duration S]
               [--weights N,N,..] [--instances N,N,..] [--comparators LIST] [--mem SIZE] [--json]
      apps/httpd as a unikernel (isolated, fast), a Linux microVM, runc, crun and podman
      containers and a native process (containers and native also under qemu-user), side by
      side (a comparator that cannot run here is skipped, with the reason, in the report): start-to-ready, latency and requests/s per /compute?n= weight, memory per instance
      for N simultaneous instances, image size; writes results.json, summary.md, report.html

SIZE: bytes, or with a K, M or G suffix (4M, 16MiB, 512K). Exit statuses of run: the program's
own 0..255; 125 unikit or QEMU failed or the kernel panicked; 126 the program could not be
loaded; 128+N the program died of signal N.
`;
