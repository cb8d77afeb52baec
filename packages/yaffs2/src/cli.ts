/**
 * `yaffs2`: make, fill, inspect and extract YAFFS2 (and YAFFS1) NAND images of every geometry
 * and layout docs/SPEC.md describes; the commands live here, their option parsers in
 * cli-options.ts. Read-only commands open the image read-only: they never modify it and
 * never create a sidecar. The shared CLI style (@flashdiff/cli-kit): errors one line on stderr,
 * exit 1 (2 for usage errors); `--version`; no arguments → help, exit 2; `completion bash|zsh`;
 * `ls -R img | head` ends quietly.
 */
import * as fs from 'node:fs';
import type { Command } from 'commander';
import { CliError, applyCliStyle, packageVersion, runCli as runStyledCli, writeFileAtomic } from '@flashdiff/cli-kit';
import type { CliDefinition } from '@flashdiff/cli-kit';
import { isNandError } from '@flashdiff/nand';
import { YAFFS2_ERROR_CODES, Yaffs2Error } from './errors.ts';
import type { Yaffs2ErrorCode } from './errors.ts';
import { makeEmptyImage, openImage } from './image.ts';
import { streamImport } from './stream-import.ts';
import { deviceNumbers, extractTree } from './extract.ts';
import type { ExtractResult } from './extract.ts';
import { streamExtract } from './stream-extract.ts';
import { editImage } from './image-edit.ts';
import type { EditImageResult } from './image-edit.ts';
import type { OpenedImage } from './image.ts';
import { commandProgress } from './progress-bars.ts';
import { Yaffs2Command, parseBlocks, parseSize, detectFormat, createFormat } from './cli-options.ts';
import type { CreateFormatOptions, FormatOptions } from './cli-options.ts';
import { describeEccCorrections } from './nand-io.ts';
import type { CommandProgress } from './progress-bars.ts';

const NO_PROGRESS = ['--no-progress', 'no progress bar (on a terminal one appears once the command has run for half a second)'] as const;
const IGNORE_ERRORS = ['--ignore-errors', 'exit 0 even when parts of the image could not be read (still reported on stderr)'] as const;

/**
 * Whether fd 2 may be a terminal: a character device (a terminal, or /dev/null). A pipe, file or
 * socket is not; then the progress bars are off without asking process.stderr, whose first use
 * on a pipe loads Node's net and stream modules (about 5 ms of a start; a bar is drawn only on a
 * terminal anyway).
 */
function stderrMayBeTerminal(): boolean {
  try {
    return fs.fstatSync(2).isCharacterDevice();
  } catch {
    return false;
  }
}

/**
 * A message on stderr, written to fd 2 directly (see {@link stderrMayBeTerminal}); what a write
 * refuses (a descriptor that would block, an error) goes through process.stderr as before.
 */
function writeStderr(text: string): void {
  const bytes = Buffer.from(text);
  let done = 0;
  try {
    while (done < bytes.length) done += fs.writeSync(2, bytes, done);
  } catch {
    process.stderr.write(bytes.subarray(done));
  }
}

/** The bars of a command that draws none (what commandProgress(false) gives, without its clock: performance.now loads perf_hooks). */
const NO_PROGRESS_BARS: CommandProgress = { active: false, scan: () => {}, bytes: () => {}, stop: () => {} };

/**
 * The command's bars: none with --no-progress, or when stderr cannot be a terminal (then neither
 * process.stderr nor performance.now is touched: ls, info and fsck, like import and extract,
 * start without Node's stream modules and perf_hooks when stderr is a pipe or a file).
 */
function commandBars(opts: { progress?: boolean }, bytesLabel?: string): CommandProgress {
  return opts.progress !== false && stderrMayBeTerminal() ? commandProgress(true, bytesLabel) : NO_PROGRESS_BARS;
}

/** The command's bars ({@link commandBars}), ended when `f` returns or throws. */
function withProgress<T>(opts: { progress?: boolean }, bytesLabel: string, f: (progress: CommandProgress) => T): T {
  const progress = commandBars(opts, bytesLabel);
  try {
    return f(progress);
  } finally {
    progress.stop();
  }
}

function withImage<T>(image: string, readOnly: boolean, opts: FormatOptions, f: (img: OpenedImage) => T, progress?: CommandProgress): T {
  let img: OpenedImage;
  try {
    img = openImage(image, { readOnly, ...detectFormat(opts), onScanProgress: progress?.active ? progress.scan : undefined });
  } finally {
    progress?.stop(); // the scan's bar ends before the command's output or error
  }
  let result: T;
  try {
    result = f(img);
  } catch (e) {
    // A failed write command still unmounts cleanly; a read-only one never writes.
    img.close();
    throw e;
  }
  img.close();
  return result;
}

/**
 * After an edit (put, rm, mkdir, grow, fsck --repair): what the ECC corrected in the chunks read
 * from the old image, one line as the read commands print it (none when nothing was corrected;
 * exit status unchanged), and, when the old image did not read cleanly, what was left behind.
 * (fsck --repair has said both before it rewrites.)
 */
function reportEditedProblems(image: string, result: EditImageResult): EditImageResult {
  const corrected = describeEccCorrections(result.sourceEccCorrections);
  if (corrected !== null) writeStderr(`yaffs2: ${image}: ${corrected}\n`);
  const p = result.sourceProblems;
  if (p.length > 0) {
    writeStderr(`yaffs2: ${image}: warning: rewritten from what could be read: ${p[0]}${p.length > 1 ? ` and ${p.length - 1} more` : ''}\n`);
  }
  return result;
}

/**
 * What the ECC corrected in the chunks the command read (each chunk once): one line on stderr,
 * none for an image that needed no correction; the exit status stays 0 (no misread).
 */
function reportEccCorrections(image: string, img: OpenedImage): void {
  const line = describeEccCorrections(img.fs.eccCorrections);
  if (line !== null) writeStderr(`yaffs2: ${image}: ${line}\n`);
}

/**
 * Nothing silent: after a read command did its work, one line on stderr if the mount met
 * anything it could not read (the first problem and the count; `fsck` lists them all), and
 * exit status 1 unless --ignore-errors.
 */
function reportMountProblems(image: string, img: OpenedImage, opts: { ignoreErrors?: boolean }): void {
  reportEccCorrections(image, img);
  const problems = img.fs.mountProblems;
  if (problems.length === 0) return;
  const more = problems.length > 1 ? ` and ${problems.length - 1} more (yaffs2 fsck lists them)` : '';
  writeStderr(`yaffs2: ${image}: warning: ${problems[0]}${more}${opts.ignoreErrors ? '' : '; --ignore-errors to exit 0'}\n`);
  if (!opts.ignoreErrors) process.exitCode = 1;
}

/** One file's bytes from the image (`cat`, `get`), the mount's problems reported as every read command does. */
function readImageFile(image: string, path: string, opts: { ignoreErrors?: boolean } & FormatOptions): Uint8Array {
  return withImage(image, true, opts, (img) => {
    const bytes = img.fs.readFile(path);
    reportMountProblems(image, img, opts);
    return bytes;
  });
}

/** ls -l's type letter: the mode's file type (device, FIFO, socket), else the object type. */
function typeLetter(type: string, mode: number): string {
  if (type === 'directory') return 'd';
  if (type === 'symlink') return 'l';
  if (type !== 'special') return '-';
  return { 0o020000: 'c', 0o060000: 'b', 0o010000: 'p', 0o140000: 's' }[mode & 0o170000] ?? '?';
}

function modeString(type: string, mode: number): string {
  const t = typeLetter(type, mode);
  const bits = 'rwxrwxrwx';
  let out = t;
  for (let i = 0; i < 9; i++) out += mode & (1 << (8 - i)) ? bits[i] : '-';
  return out;
}

function joinPath(dir: string, name: string): string {
  return dir.endsWith('/') ? dir + name : `${dir}/${name}`;
}

/** A host-side errno as this package's code when it has one (EISDIR stays EISDIR), else EIO. */
function hostCode(e: unknown): Yaffs2ErrorCode {
  const code = (e as NodeJS.ErrnoException).code;
  return (YAFFS2_ERROR_CODES as readonly string[]).includes(code ?? '') ? (code as Yaffs2ErrorCode) : 'EIO';
}

function out(line: string): void {
  process.stdout.write(line + '\n');
}

/** The commands buildProgram defines (help lists them in this order). */
const COMMAND_NAMES = ['mkfs', 'import', 'extract', 'ls', 'cat', 'get', 'put', 'rm', 'mkdir', 'grow', 'info', 'fsck'];

/**
 * The CLI's commands; with `only`, that command alone (runCli, when the arguments name one: the
 * others' options and help texts are not built, about a fifth of the bundle's start-up; its own
 * --help and errors read the same). Without it, every command (--help, `help`, completion,
 * suggestions for a mistyped command).
 */
export function buildProgram(only?: string): Command {
  const want = (name: string): boolean => only === undefined || only === name;
  const program = new Yaffs2Command();
  program.name('yaffs2').description('YAFFS2 images: mkfs, import, extract, ls, cat, put, get, rm, mkdir, info, fsck');

  if (want('mkfs'))
    program
      .command('mkfs <image>')
      .description('create an empty YAFFS2 image of N blocks')
      .requiredOption('--blocks <n>', 'erase blocks (64 pages of 2048 + 64 bytes each)', parseBlocks)
      .createFormatOptions()
      .action((image: string, opts: { blocks: number } & CreateFormatOptions) => {
        makeEmptyImage(image, { blocks: opts.blocks, ...createFormat(opts) });
      });

  if (want('import'))
    program
      .command('import <dir> <image>')
      .description('write a host directory tree into a new image, as mkyaffs2image does')
      .option('--blocks <n>', 'erase blocks (default: what the tree needs, the reserve and --free)', parseBlocks)
      .option('--free <size>', 'room left for edits, bytes or with K/M/G (default: 10% of the tree, at least 4 blocks)', parseSize)
      .createFormatOptions()
      .option(...NO_PROGRESS)
      .action((dir: string, image: string, opts: { blocks?: number; free?: number; progress: boolean } & CreateFormatOptions) => {
        // The stream writer (stream-import.ts); it hands what it does not handle to importTree.
        const r = withProgress(opts, 'import', (progress) => streamImport(dir, image, { blocks: opts.blocks, freeBytes: opts.free, ...createFormat(opts), onProgress: progress.active ? progress.bytes : undefined }));
        writeStderr(`imported ${r.objects} objects, ${r.bytes} bytes, into ${r.blocks} blocks\n`);
      });

  if (want('extract'))
    program
      .command('extract <image> <dir>')
      .description('recreate the image tree under a new (or empty) host directory')
      .formatOptions()
      .option(...IGNORE_ERRORS)
      .option(...NO_PROGRESS)
      .action((image: string, dir: string, opts: { ignoreErrors?: boolean; progress: boolean } & FormatOptions) => {
        const reportSkipped = (r: ExtractResult): void => {
          if (r.skipped.length > 0) {
            const more = r.skipped.length > 1 ? ` and ${r.skipped.length - 1} more` : '';
            writeStderr(`yaffs2: ${dir}: not created: ${r.skipped[0]}${more} (yaffs2 ls -l -R lists them)\n`);
          }
        };
        withProgress(opts, 'extract', (progress) => {
          // A clean YAFFS2 image: one pass over the image, no mount (stream-extract.ts). It hands
          // back (null, nothing written) whatever the mount would report or it does not handle;
          // that is mounted and extracted as before, warnings and exit status included.
          const streamed = streamExtract(image, dir, {
            format: detectFormat(opts),
            onScanProgress: progress.active ? progress.scan : undefined,
            onProgress: progress.active ? progress.bytes : undefined,
          });
          if (streamed !== null) {
            progress.stop();
            reportSkipped(streamed);
            return;
          }
          withImage(
            image,
            true,
            opts,
            (img) => {
              const r = extractTree(img.fs, dir, { onProgress: progress.active ? progress.bytes : undefined });
              progress.stop();
              reportSkipped(r);
              reportMountProblems(image, img, opts);
            },
            progress,
          );
        });
      });

  if (want('ls'))
    program
      .command('ls <image> [path]')
      .description('list a directory')
      .option('-l', 'long listing')
      .option('-R', 'recursive')
      .formatOptions()
      .option(...IGNORE_ERRORS)
      .option(...NO_PROGRESS)
      .action((image: string, path: string | undefined, opts: { l?: boolean; R?: boolean; ignoreErrors?: boolean; progress: boolean } & FormatOptions) => {
        withImage(image, true, opts, (img) => {
          const start = path ?? '/';
          const st = img.fs.lstat(start);
          if (st.type !== 'directory') {
            out(start);
            return;
          }
          const seen = new Set<number>();
          const list = (dir: string, depth: number): void => {
            if (depth > 1024) throw new Yaffs2Error('CORRUPT_IMAGE', `${dir}: tree deeper than 1024`);
            const entries = img.fs.readdir(dir);
            if (opts.R) out(`${dir}:`);
            for (const e of entries) {
              const p = joinPath(dir, e.name);
              if (opts.l) {
                const s = img.fs.lstat(p);
                const link = s.type === 'symlink' ? ` -> ${img.fs.readlink(p)}` : '';
                const time = new Date(s.mtime * 1000).toISOString().slice(0, 16).replace('T', ' ');
                const letter = typeLetter(s.type, s.mode);
                const dev = deviceNumbers(s.rdev);
                const size = letter === 'c' || letter === 'b' ? `${dev.major}, ${dev.minor}` : String(s.size);
                out(`${modeString(s.type, s.mode)} ${String(s.nlink).padStart(2)} ${String(s.uid).padStart(5)} ${String(s.gid).padStart(5)} ${size.padStart(10)} ${time} ${e.name}${link}`);
              } else {
                out(e.name);
              }
            }
            if (opts.R) {
              for (const e of entries) {
                if (e.type !== 'directory') continue;
                const p = joinPath(dir, e.name);
                const s = img.fs.lstat(p);
                if (seen.has(s.id)) continue;
                seen.add(s.id);
                out('');
                list(p, depth + 1);
              }
            }
          };
          list(start, 0);
          reportMountProblems(image, img, opts);
        }, commandBars(opts));
      });

  if (want('cat'))
    program
      .command('cat <image> <path>')
      .description('write a file to stdout')
      .formatOptions()
      .option(...IGNORE_ERRORS)
      .action((image: string, path: string, opts: { ignoreErrors?: boolean } & FormatOptions) => {
        fs.writeSync(1, readImageFile(image, path, opts));
      });

  if (want('get'))
    program
      .command('get <image> <path> <host-file>')
      .description('copy a file out of the image (refuses to overwrite a host file)')
      .formatOptions()
      .option(...IGNORE_ERRORS)
      .action((image: string, path: string, hostFile: string, opts: { ignoreErrors?: boolean } & FormatOptions) => {
        // Checked before the image is read: a refusal costs nothing.
        if (fs.existsSync(hostFile)) throw new Yaffs2Error('EEXIST', `${hostFile}: exists on the host; not overwritten`);
        // Whole or not at all: a failed write (ENOSPC, Ctrl-C) leaves no partial host file.
        writeFileAtomic(hostFile, readImageFile(image, path, opts));
      });

  if (want('put'))
    program
      .command('put <image> <host-file> <path>')
      .description('copy a host file into the image (replacing a file there); the image is rewritten whole, atomically')
      .option('--blocks <n>', 'grow the image to N erase blocks first', parseBlocks)
      .formatOptions()
      .action((image: string, hostFile: string, path: string, opts: { blocks?: number } & FormatOptions) => {
        let data: Uint8Array;
        try {
          data = fs.readFileSync(hostFile);
        } catch (e) {
          throw new Yaffs2Error(hostCode(e), `${hostFile}: cannot read the host file`);
        }
        reportEditedProblems(image, editImage(image, [{ kind: 'put', path, content: data }], { ...detectFormat(opts), blocks: opts.blocks }));
      });

  if (want('rm'))
    program
      .command('rm <image> <path>')
      .description('remove a file, symlink or empty directory; the image is rewritten whole, atomically')
      .formatOptions()
      .action((image: string, path: string, opts: FormatOptions) => {
        reportEditedProblems(image, editImage(image, [{ kind: 'rm', path }], detectFormat(opts)));
      });

  if (want('mkdir'))
    program
      .command('mkdir <image> <path>')
      .description('create a directory; the image is rewritten whole, atomically')
      .option('--blocks <n>', 'grow the image to N erase blocks first', parseBlocks)
      .formatOptions()
      .action((image: string, path: string, opts: { blocks?: number } & FormatOptions) => {
        reportEditedProblems(image, editImage(image, [{ kind: 'mkdir', path }], { ...detectFormat(opts), blocks: opts.blocks }));
      });

  if (want('grow'))
    program
      .command('grow <image>')
      .description('give the image more erase blocks (rewritten whole, atomically)')
      .requiredOption('--blocks <n>', 'the new number of erase blocks (at least the present one)', parseBlocks)
      .formatOptions()
      .action((image: string, opts: { blocks: number } & FormatOptions) => {
        const r = reportEditedProblems(image, editImage(image, [], { ...detectFormat(opts), blocks: opts.blocks }));
        writeStderr(`${image}: ${r.freeBytes} bytes free in ${r.blocks} blocks\n`);
      });

  if (want('info'))
    program
      .command('info <image>')
      .description('geometry, layout, objects, free space, blocks by state, erase counts')
      .option('--json', 'machine-readable output')
      .formatOptions()
      .option(...IGNORE_ERRORS)
      .option(...NO_PROGRESS)
      .action((image: string, opts: { json?: boolean; ignoreErrors?: boolean; progress: boolean } & FormatOptions) => {
        withImage(image, true, opts, (img) => {
          const g = img.device.geometry;
          const info = img.fs.info();
          const statfs = img.fs.statfs();
          const report = {
            image,
            geometry: { pageSize: g.pageSize, spareSize: g.spareSize, pagesPerBlock: g.pagesPerBlock, blocks: img.fs.blockCount },
            layout: img.layout,
            format: {
              bigEndian: img.format.bigEndian,
              tagEcc: img.format.tagEcc,
              inbandTags: img.format.inbandTags,
              dataEcc: img.format.dataEcc,
              littleEndianParity: img.format.littleEndianParity,
              confidence: img.format.confidence,
              plausibleChunks: img.format.plausible,
              examinedChunks: img.format.examined,
              nextBestFormat: img.format.runnerUp,
              notes: img.format.notes,
            },
            mountedFrom: img.fs.stats.mountedFrom,
            objects: { total: info.objects, files: info.files, directories: info.directories, symlinks: info.symlinks, hardlinks: info.hardlinks },
            space: { totalBytes: statfs.totalBytes, freeBytes: statfs.freeBytes, freeChunks: statfs.freeChunks, reservedBlocks: statfs.reservedBlocks },
            blocksByState: info.blocksByState,
            eraseCounts: info.eraseCounts,
            sequenceNumber: info.sequenceNumber,
            eccEvents: {
              tagCorrected: img.fs.stats.tagEccCorrected,
              tagUncorrectable: img.fs.stats.tagEccUncorrectable,
            },
            eccCorrections: img.fs.eccCorrections,
          };
          if (opts.json) {
            out(JSON.stringify({ ...report, problems: img.fs.mountProblems }, null, 2));
            reportMountProblems(image, img, opts);
            return;
          }
          out(`image        ${image}`);
          out(`geometry     ${g.pageSize}+${g.spareSize} bytes/page, ${g.pagesPerBlock} pages/block, ${img.fs.blockCount} blocks`);
          out(`layout       ${img.layout}, ${img.format.bigEndian ? 'big' : 'little'}-endian, ${img.format.inbandTags ? 'inband tags' : `tag ECC ${img.format.tagEcc ? 'on' : 'off'}`}${img.format.layout === 'mtd' ? `, data ECC ${img.format.dataEcc}` : ''}${img.format.bigEndian && img.format.tagEcc && !img.format.inbandTags && img.format.littleEndianParity ? ', tag-ECC parities little-endian' : ''} (mounted from ${report.mountedFrom})`);
          out(`detected     ${img.format.confidence} confidence: ${img.format.notes.join('; ')}`);
          out(`objects      ${info.objects} (${info.files} files, ${info.directories} dirs, ${info.symlinks} symlinks, ${info.hardlinks} hard links)`);
          out(`space        ${statfs.freeBytes} of ${statfs.totalBytes} bytes free (${statfs.reservedBlocks} blocks reserved)`);
          out(`blocks       ${Object.entries(info.blocksByState).map(([k, v]) => `${k} ${v}`).join(', ')}`);
          out(`erase counts min ${info.eraseCounts.min}, max ${info.eraseCounts.max}, mean ${info.eraseCounts.mean.toFixed(2)}`);
          out(`ecc          ${describeEccCorrections(report.eccCorrections) ?? 'nothing corrected in the chunks read'}`);
          out(`problems     ${img.fs.mountProblems.length}`);
          reportMountProblems(image, img, opts);
        }, commandBars(opts));
      });

  if (want('fsck'))
    program
      .command('fsck <image>')
      .description('check the image; exit 0 when clean, 1 when problems were found')
      .option('--repair', 'rewrite the image whole from what could be read (atomically), dropping stale and damaged chunks')
      .formatOptions()
      .option(...NO_PROGRESS)
      .action((image: string, opts: { repair?: boolean; progress: boolean } & FormatOptions) => {
        const { problems, corrected } = withImage(image, true, opts, (img) => {
          // A scan mount reports what it could not read; a checkpoint mount read no chunks, so
          // objects it holds in lost+found are listed instead.
          const mount = [...img.fs.mountProblems];
          if (img.fs.stats.mountedFrom !== 'scan' && img.fs.readdir('/').some((e) => e.name === 'lost+found')) {
            for (const e of img.fs.readdir('/lost+found')) mount.push(`lost+found/${e.name}: object without a valid parent`);
          }
          const found = [...mount, ...img.fs.check()];
          // Every live chunk was read: what the ECC corrected on the way (not a problem: exit 0).
          return { problems: found, corrected: describeEccCorrections(img.fs.eccCorrections) };
        }, commandBars(opts));
        for (const p of problems) out(p);
        if (corrected !== null) {
          out(`${image}: ${corrected}`);
          writeStderr(`yaffs2: ${image}: ${corrected}\n`);
        }
        if (problems.length > 0) {
          // (fsck has reported the ECC corrections and the problems of this image already.)
          if (opts.repair) editImage(image, [], detectFormat(opts));
          writeStderr(`yaffs2: ${image}: ${problems.length} problem(s)${opts.repair ? '; rewritten from what could be read' : ''}\n`);
          process.exitCode = 1;
        } else {
          out(`${image}: clean`);
        }
      });

  return program;
}

const DEFINITION: CliDefinition = {
  tool: 'yaffs2',
  version: packageVersion(import.meta.url),
  examples: [
    'yaffs2 import ./tree rootfs.img',
    'yaffs2 ls -l -R rootfs.img',
    'yaffs2 info rootfs.img --json',
    'yaffs2 extract rootfs.img ./out',
    'source <(yaffs2 completion bash)',
  ],
  classify(e) {
    // Yaffs2Error messages start with their code ("ENOENT: /a: …"); NandError's do not.
    if (e instanceof Yaffs2Error) return { status: 1, message: e.message };
    if (isNandError(e)) return { status: 1, message: `${e.code}: ${e.message}` };
    if (e instanceof CliError) return { status: e.code === 'USAGE' ? 2 : 1, message: e.message };
    return undefined;
  },
};

/** Runs the CLI on `argv` (the arguments after the command name); resolves to the exit status. main.ts is the entry point. */
export function runCli(argv: string[]): Promise<number> {
  const only = argv[0] !== undefined && COMMAND_NAMES.includes(argv[0]) ? argv[0] : undefined;
  return runStyledCli(applyCliStyle(buildProgram(only), DEFINITION), DEFINITION, argv);
}
