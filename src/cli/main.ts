#!/usr/bin/env node
/** The `unikit` command: dispatches to build, run, inspect, analyze, trace and the fleet commands; turns failures into one line. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../project/index.js';
import { describeFailure } from './report.js';
import { HELP, UsageError } from './usage.js';

// Each command's modules are imported when it runs, not at start: the bundle splits them into
// chunks, so `unikit run` does not parse the daemon, the orchestrator or the analyzer (a whole
// bundle costs Node ~100 ms before the first line, more than the VM it starts).

// A reader that goes away (`unikit run ... | head`) is not an error of unikit's: stop writing to
// it and let the VM finish, as a program whose stdout is closed keeps running until it writes.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
  });
}

export async function main(argvIn: readonly string[]): Promise<number> {
  // `unikit --tenant NAME <command> ...`: the tenant option may come before the command too.
  const argv = argvIn[0] === '--tenant' && argvIn.length >= 3 ? [argvIn[2] as string, ...argvIn.slice(0, 2), ...argvIn.slice(3)]
    : argvIn[0]?.startsWith('--tenant=') && argvIn.length >= 2 ? [argvIn[1] as string, argvIn[0], ...argvIn.slice(2)] : argvIn;
  const [command, ...rest] = argv;
  const out = (s: string): void => void process.stdout.write(s);
  const message = (line: string): void => void process.stderr.write(line + '\n');
  try {
    switch (command) {
      case 'build':
        return await (await import('./commands/build.js')).buildCommand(rest, { out, message });
      case 'run':
        return await (await import('./commands/run.js')).runCommand(rest, { stdout: process.stdout, stderr: process.stderr, message });
      case 'inspect':
        return await (await import('./commands/inspect.js')).inspectCommand(rest, { out });
      case 'analyze':
        return await (await import('./commands/analyze.js')).analyzeCommand(rest, { out });
      case 'trace':
        return await (await import('./commands/trace.js')).traceCommand(rest, { out, stderr: process.stderr, message });
      case 'validate':
        return await (await import('./commands/validate.js')).validateCommand(rest, { out, err: (s) => void process.stderr.write(s) });
      case 'bench':
        return await (await import('./commands/bench.js')).benchCommand(rest, { out, message });
      case 'keys':
        return await (await import('./commands/keys.js')).keysCommand(rest, { out });
      case 'deploy':
      case 'undeploy':
      case 'status':
        return await (await import('./commands/deploy.js')).deployCommands(command, rest, { out, err: (s) => void process.stderr.write(s) });
      case 'event':
      case 'scale':
        return await (await import('./commands/event.js')).eventCommands(command, rest, { out, err: (s) => void process.stderr.write(s) });
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        out(HELP);
        return command === undefined ? 2 : 0;
      case '--version':
      case 'version':
        out(`${(JSON.parse(readFileSync(join(projectRoot(), 'package.json'), 'utf8')) as { version: string }).version}\n`);
        return 0;
      default: {
        const { isFleetCommand, runFleetCommand } = await import('./fleet-commands.js');
        if (isFleetCommand(command)) return await runFleetCommand(command, rest, { out, err: (s) => void process.stderr.write(s), outBytes: (b) => void process.stdout.write(b), tty: process.stderr.isTTY });
        throw new UsageError(`unknown command ${JSON.stringify(command)}: use build, run, inspect, analyze or trace (see \`unikit help\`)`);
      }
    }
  } catch (e) {
    const f = describeFailure(e, command === 'run');
    message(f.line);
    return f.status;
  }
}

// Set the status and let Node end by itself: output still queued for a pipe gets written first.
process.exitCode = await main(process.argv.slice(2));
