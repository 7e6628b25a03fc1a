#!/usr/bin/env node
/** The `unikit` command: dispatches to build, run and inspect; turns failures into one line. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../project/index.js';
import { buildCommand } from './commands/build.js';
import { inspectCommand } from './commands/inspect.js';
import { runCommand } from './commands/run.js';
import { describeFailure } from './report.js';
import { HELP, UsageError } from './usage.js';

export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  const out = (s: string): void => void process.stdout.write(s);
  const message = (line: string): void => void process.stderr.write(line + '\n');
  try {
    switch (command) {
      case 'build':
        return await buildCommand(rest, { out });
      case 'run':
        return await runCommand(rest, {
          stdout: (b) => void process.stdout.write(b),
          stderr: (b) => void process.stderr.write(b),
          message,
        });
      case 'inspect':
        return await inspectCommand(rest, { out });
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
      default:
        throw new UsageError(`unknown command ${JSON.stringify(command)}: use build, run or inspect (see \`unikit help\`)`);
    }
  } catch (e) {
    const f = describeFailure(e, command === 'run');
    message(f.line);
    return f.status;
  }
}

// Set the status and let Node end by itself: output still queued for a pipe gets written first.
process.exitCode = await main(process.argv.slice(2));
