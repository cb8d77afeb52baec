/**
 * One command-line style for every tool of the project (ssdsim, yaffs2, diffusion):
 * - `--version`; `--help` ends with examples; no arguments prints the help on stderr, exit 2;
 * - errors are one line `<tool>: <message>` on stderr; exit 2 for usage errors (bad or missing
 *   flags and arguments), 1 for runtime errors; no stack traces;
 * - `completion bash|zsh` prints a completion script generated from the command definitions;
 * - a closed stdout (`… | head`) ends the tool quietly with exit 0;
 * - Ctrl-C (for tools that say they are interruptible) removes temporary files, exit 130.
 * `--json` (a per-command flag) means one machine-readable result on stdout and nothing else
 * there; progress and notes go to stderr (progress bars only on a terminal: progress.ts).
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Argument, type Command, CommanderError } from 'commander';
import { COMPLETION_SHELLS, type CompletionShell, completionScript } from './completion.ts';
import { removeTemporaryFiles } from './atomic-write.ts';
import { CliError } from './errors.ts';

export interface CliDefinition {
  /** The command name, the prefix of every error line. */
  tool: string;
  /** Printed by --version. */
  version: string;
  /** Example command lines shown at the end of --help. */
  examples: string[];
  /**
   * Map a package's own errors to an exit status (2: the user's input is wrong; 1: it failed)
   * and the message to print; undefined for errors it does not know.
   */
  classify?: (e: unknown) => { status: 1 | 2; message: string } | undefined;
  /**
   * Install a SIGINT/SIGTERM handler that removes temporary files and exits 130/143. Only for
   * tools whose long work yields to the event loop: a handler would otherwise defer Ctrl-C until
   * a synchronous run ends (without one, the default action ends the process at once, and an
   * atomic write in flight leaves the target untouched).
   */
  interruptible?: boolean;
}

/** The version field of the package.json nearest above `moduleUrl`. */
export function packageVersion(moduleUrl: string): string {
  let dir = dirname(fileURLToPath(moduleUrl));
  for (;;) {
    try {
      const json = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version?: string };
      return json.version ?? '0.0.0';
    } catch {
      const parent = dirname(dir);
      if (parent === dir) return '0.0.0';
      dir = parent;
    }
  }
}

function allCommands(command: Command): Command[] {
  return [command, ...command.commands.flatMap(allCommands)];
}

/** One line: no "error: " or "<tool>: " prefix, no line breaks. */
export function oneLine(tool: string, message: string): string {
  const flat = message
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .join(' ');
  let out = flat;
  for (;;) {
    const next = out.replace(/^error:\s*/i, '').replace(new RegExp(`^${tool.replace(/[^\w-]/g, '\\$&')}:\\s*`), '');
    if (next === out) return out;
    out = next;
  }
}

const captured = new WeakMap<Command, { text: string }>();

/**
 * Give `program` the shared style: name, version, examples in --help, the completion command,
 * and error output captured (runCli prints it as one line).
 */
export function applyCliStyle(program: Command, def: CliDefinition): Command {
  program.name(def.tool).version(def.version, '-V, --version', 'print the version');
  program
    .command('completion')
    .description('print a shell completion script (bash or zsh), generated from these commands')
    .addArgument(new Argument('<shell>', 'bash or zsh').choices(COMPLETION_SHELLS))
    .addHelpText('after', `\nExamples:\n  source <(${def.tool} completion bash)\n  ${def.tool} completion zsh > ~/.zfunc/_${def.tool}`)
    .action((shell: CompletionShell) => {
      process.stdout.write(completionScript(shell, def.tool, program));
    });
  if (def.examples.length > 0) program.addHelpText('after', `\nExamples:\n${def.examples.map((e) => `  ${e}`).join('\n')}\n`);
  const sink = { text: '' };
  for (const c of allCommands(program)) {
    captured.set(c, sink);
    c.exitOverride();
    c.configureOutput({ outputError: (s) => (sink.text += s) });
    c.showSuggestionAfterError(true);
  }
  return program;
}

function onStdoutError(e: NodeJS.ErrnoException): void {
  // A reader that went away (`… | head`): what it wanted it has; end quietly.
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
}

let stdoutWatched = false;

/**
 * onStdoutError on process.stdout, attached when the stream is first used rather than now:
 * making process.stdout loads Node's stream modules (and, for a pipe, net), about 20 built-in
 * modules and a few milliseconds of every start, which a command that never writes to stdout
 * (`yaffs2 extract`) need not pay. process.stdout is Node's lazy getter; it is wrapped by one
 * that attaches the listener to the stream the first time it hands it out. Where it cannot be
 * wrapped (not a configurable getter), the listener is attached at once, as before.
 */
function watchStdout(): void {
  if (stdoutWatched) return;
  stdoutWatched = true;
  const attach = (stream: NodeJS.WriteStream): NodeJS.WriteStream => {
    if (!stream.listeners('error').includes(onStdoutError)) stream.on('error', onStdoutError);
    return stream;
  };
  const d = Object.getOwnPropertyDescriptor(process, 'stdout');
  const get = d?.get;
  if (get === undefined || d?.configurable !== true) {
    attach(process.stdout);
    return;
  }
  let stream: NodeJS.WriteStream | undefined;
  Object.defineProperty(process, 'stdout', {
    configurable: true,
    enumerable: d.enumerable,
    get: () => (stream ??= attach(get.call(process) as NodeJS.WriteStream)),
  });
}

function isEpipe(e: unknown): boolean {
  return (e as NodeJS.ErrnoException)?.code === 'EPIPE';
}

let interruptHandled = false;

/**
 * From now on Ctrl-C (SIGINT) and SIGTERM remove temporary files, print `<tool>: interrupted` and
 * exit 130/143. runCli calls it for interruptible tools; a command whose own work awaits, in a
 * tool that is not interruptible as a whole (`ssdsim plot`), calls it in its action. Without it
 * the signal's default action ends the process at once and an atomic write in flight leaves its
 * temporary file behind.
 */
export function exitOnInterrupt(tool: string): void {
  if (interruptHandled) return;
  interruptHandled = true;
  for (const [signal, status] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    process.once(signal, () => {
      removeTemporaryFiles();
      process.stderr.write(`\n${tool}: interrupted\n`);
      process.exit(status);
    });
  }
}

/** Run `program` (styled by applyCliStyle) on `argv` (user arguments); returns the exit status. */
export async function runCli(program: Command, def: CliDefinition, argv: string[]): Promise<number> {
  const fail = (status: number, message: string): number => {
    process.stderr.write(`${def.tool}: ${oneLine(def.tool, message)}\n`);
    return status;
  };
  watchStdout();
  if (def.interruptible) exitOnInterrupt(def.tool);
  if (argv.length === 0) {
    process.stderr.write(program.helpInformation());
    return 2;
  }
  const sink = captured.get(program) ?? { text: '' };
  sink.text = '';
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (e) {
    if (isEpipe(e)) return 0;
    if (e instanceof CommanderError) {
      if (e.exitCode === 0 || e.code === 'commander.helpDisplayed' || e.code === 'commander.version') return 0;
      if (e.code === 'commander.help' || e.code === 'commander.executeSubCommandAsync') {
        return fail(2, `a command is required (${program.commands.map((c) => c.name()).join(', ')}; see ${def.tool} --help)`);
      }
      return fail(2, sink.text || e.message);
    }
    if (e instanceof CliError) return fail(e.code === 'USAGE' ? 2 : 1, e.message);
    const known = def.classify?.(e);
    if (known) return fail(known.status, known.message);
    const err = e as NodeJS.ErrnoException;
    if (err && typeof err.code === 'string' && typeof err.message === 'string') return fail(1, err.message);
    return fail(1, `internal error: ${err?.message ?? String(e)}`);
  }
  return typeof process.exitCode === 'number' ? process.exitCode : 0;
}
