/** @flashdiff/cli-kit: the command-line conventions shared by ssdsim, yaffs2 and diffusion. */
export { CLI_ERROR_CODES, CliError, isCliError } from './errors.ts';
export type { CliErrorCode } from './errors.ts';
export { ensureDirectory, removeTemporaryFiles, releaseTemporaryPath, temporaryPathFor, writeFileAtomic, writeFilesAtomic } from './atomic-write.ts';
export { applyCliStyle, exitOnInterrupt, oneLine, packageVersion, runCli } from './cli.ts';
export type { CliDefinition } from './cli.ts';
export { COMPLETION_SHELLS, bashCompletion, completionScript, zshCompletion } from './completion.ts';
export type { CompletionShell } from './completion.ts';
export { progressBar } from './progress.ts';
export type { Progress } from './progress.ts';
