/**
 * `npm start`: builds the client when needed, starts the dashboard on 127.0.0.1 and prints
 * its URL. Flags: --port N (or PORT; default 5178; 0 = any free port), --checkpoints DIR.
 */
import { ensureClientBuilt } from './client-build.ts';
import { startDashboardServer } from './server.ts';

const DEFAULT_PORT = 5178;

function usage(): string {
  return [
    'usage: npm start -- [--port N] [--checkpoints DIR] [--models DIR]',
    '  --port N           TCP port on 127.0.0.1 (default PORT or 5178; 0 picks a free port)',
    '  --checkpoints DIR  folder whose sub-folders are diffusion checkpoints (default out/checkpoints)',
    '  --models DIR       folder of text-to-image models: diffusers folders, SD-1.x .safetensors files (default out/models)',
    '  --rebuild          rebuild the client even when it looks up to date',
  ].join('\n');
}

function fail(message: string, code = 2): never {
  process.stderr.write(`dashboard: ${message}\n`);
  process.exit(code);
}

function parsePort(text: string, where: string): number {
  if (!/^\d+$/.test(text) || Number(text) > 65535) fail(`${where}: '${text}' is not a port number (0–65535)`);
  return Number(text);
}

async function main(argv: readonly string[]): Promise<void> {
  let port = process.env.PORT !== undefined && process.env.PORT !== '' ? parsePort(process.env.PORT, 'PORT') : DEFAULT_PORT;
  let checkpointDirectory: string | undefined;
  let modelDirectory: string | undefined;
  let rebuild = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) fail(`${arg} needs a value\n${usage()}`);
      return v;
    };
    if (arg === '--port') port = parsePort(value(), '--port');
    else if (arg.startsWith('--port=')) port = parsePort(arg.slice(7), '--port');
    else if (arg === '--checkpoints') checkpointDirectory = value();
    else if (arg === '--models') modelDirectory = value();
    else if (arg === '--rebuild') rebuild = true;
    else if (arg === '--help' || arg === '-h') {
      process.stdout.write(`${usage()}\n`);
      return;
    } else fail(`unknown argument '${arg}'\n${usage()}`);
  }
  try {
    await ensureClientBuilt({ force: rebuild, log: (line) => process.stderr.write(`${line}\n`) });
  } catch (e) {
    fail((e as Error).message, 1);
  }
  let server;
  try {
    server = await startDashboardServer({ port, ...(checkpointDirectory !== undefined ? { checkpointDirectory } : {}), ...(modelDirectory !== undefined ? { modelDirectory } : {}) });
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'EADDRINUSE') fail(`port ${port} on 127.0.0.1 is in use; pick another with --port N`, 1);
    fail(`cannot start the server: ${(e as Error).message}`, 1);
  }
  process.stdout.write(`flashdiff dashboard: ${server.url}\n`);
  const stop = (): void => {
    server.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main(process.argv.slice(2)).catch((e: unknown) => fail((e as Error).message, 1));
