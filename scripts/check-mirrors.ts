// Keeps the WebAssembly kernels and the TypeScript they mirror honest, the way diffusers'
// utils/check_copies.py keeps its copied code honest: every kernel function that re-implements
// TypeScript code (packages/*/kernel/**/*.ts, AssemblyScript) carries, on the line right above its
// `function`, a marker naming what it mirrors and a fingerprint of both sides. So does every
// function of a package's plain-JavaScript launcher (packages/*/bin/*.js, run before any bundle
// exists) that re-implements a TypeScript one:
//
//   // Mirrors: packages/nand/src/timing.ts#NandClock.program kernel:1a2b3c4d source:5e6f7a8b
//
// (several `path#Class.member` or `path#function` names may follow "Mirrors:"). `kernel` hashes the
// kernel function's text, `source` the named TypeScript declarations' (whitespace collapsed). When
// one side changes and the other is not reviewed with it, its hash no longer matches and this
// script fails, naming the side that moved. After making both agree again:
//   npx tsx scripts/check-mirrors.ts            check (npm test runs this)
//   npx tsx scripts/check-mirrors.ts --update   rewrite the fingerprints
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = fileURLToPath(new URL('..', import.meta.url));
const MARKER = /^(\s*)\/\/ Mirrors: (.+?)(?: kernel:([0-9a-f]{8}) source:([0-9a-f]{8}))?\s*$/;
const FUNCTION = /^(?:@inline\s+)?(?:export\s+)?function\s+(\w+)/;

export interface Mirror {
  /** Kernel file (relative to the repository root) and the marker's 0-based line. */
  readonly file: string;
  readonly line: number;
  readonly kernelFunction: string;
  readonly sources: readonly string[];
  readonly kernelHash: string;
  readonly sourceHash: string;
  /** The hashes the marker records (empty when it has none yet). */
  readonly recordedKernel: string;
  readonly recordedSource: string;
}

export type ReadText = (path: string) => string;
const readText: ReadText = (path) => readFileSync(`${root}${path}`, 'utf8');

function fingerprint(text: string): string {
  return createHash('sha256').update(text.replace(/\s+/g, ' ').trim()).digest('hex').slice(0, 8);
}

/** The text of the kernel function declared at `lines[at]`: through the first line that is `}`. */
function kernelFunctionText(lines: readonly string[], at: number): string {
  let end = at;
  while (end < lines.length && lines[end] !== '}') end++;
  return lines.slice(at, end + 1).join('\n');
}

/** The text of `Class.member` or `function` in a TypeScript file; throws when it is not there. */
export function declarationText(path: string, name: string, read: ReadText = readText): string {
  const source = ts.createSourceFile(path, read(path), ts.ScriptTarget.Latest, true);
  const [first, member] = name.split('.') as [string, string | undefined];
  let found: string | null = null;
  const visit = (node: ts.Node): void => {
    if (found !== null) return;
    if (member === undefined && ts.isFunctionDeclaration(node) && node.name?.text === first) found = node.getText(source);
    if (member !== undefined && ts.isClassDeclaration(node) && node.name?.text === first) {
      const texts = node.members
        .filter((m) => (ts.isMethodDeclaration(m) || ts.isGetAccessor(m) || ts.isSetAccessor(m) || ts.isPropertyDeclaration(m)) && m.name !== undefined && ts.isIdentifier(m.name) && m.name.text === member)
        .map((m) => m.getText(source));
      if (texts.length > 0) found = texts.join('\n');
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  if (found === null) throw new Error(`${path}: no ${member === undefined ? 'function' : 'class member'} ${name}`);
  return found;
}

/** Every .ts file under packages/<package>/kernel/ (its subfolders, kernel/ftl/ …, included) and every .js file in packages/<package>/bin/. */
function kernelFiles(): string[] {
  const files: string[] = [];
  const list = (dir: string, recursive: boolean): string[] => {
    try {
      return readdirSync(`${root}${dir}`, { recursive, encoding: 'utf8' });
    } catch {
      return [];
    }
  };
  for (const pkg of readdirSync(`${root}packages`)) {
    for (const f of list(`packages/${pkg}/kernel`, true)) if (f.endsWith('.ts')) files.push(`packages/${pkg}/kernel/${f.split('\\').join('/')}`);
    for (const f of list(`packages/${pkg}/bin`, false)) if (f.endsWith('.js')) files.push(`packages/${pkg}/bin/${f}`);
  }
  return files.sort();
}

/** Every marker of every kernel file, with the hashes the code has now. */
export function findMirrors(read: ReadText = readText, files: readonly string[] = kernelFiles()): Mirror[] {
  const out: Mirror[] = [];
  for (const file of files) {
    const lines = read(file).split('\n');
    for (let i = 0; i < lines.length; i++) {
      const m = MARKER.exec(lines[i]!);
      if (m === null) continue;
      const declaration = FUNCTION.exec(lines[i + 1] ?? '');
      if (declaration === null) throw new Error(`${file}:${i + 1}: a Mirrors marker must stand on the line right above a function`);
      const sources = m[2]!.split(/\s+/);
      const texts = sources.map((ref) => {
        const [path, name] = ref.split('#') as [string, string | undefined];
        if (name === undefined) throw new Error(`${file}:${i + 1}: '${ref}' is not path#name`);
        return declarationText(path, name, read);
      });
      out.push({
        file,
        line: i,
        kernelFunction: declaration[1]!,
        sources,
        kernelHash: fingerprint(kernelFunctionText(lines, i + 1)),
        sourceHash: fingerprint(texts.join('\n')),
        recordedKernel: m[3] ?? '',
        recordedSource: m[4] ?? '',
      });
    }
  }
  return out;
}

/** The markers whose recorded fingerprints differ from the code, with what moved. */
export function staleMirrors(mirrors: readonly Mirror[]): { mirror: Mirror; moved: string }[] {
  const stale: { mirror: Mirror; moved: string }[] = [];
  for (const mirror of mirrors) {
    const kernel = mirror.kernelHash !== mirror.recordedKernel;
    const source = mirror.sourceHash !== mirror.recordedSource;
    if (kernel || source) stale.push({ mirror, moved: kernel && source ? 'both sides (or a new marker)' : kernel ? 'the kernel side' : 'the TypeScript side' });
  }
  return stale;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const mirrors = findMirrors();
  if (process.argv.includes('--update')) {
    const byFile = new Map<string, Mirror[]>();
    for (const m of mirrors) byFile.set(m.file, [...(byFile.get(m.file) ?? []), m]);
    for (const [file, list] of byFile) {
      const lines = readText(file).split('\n');
      for (const m of list) {
        const indent = MARKER.exec(lines[m.line]!)![1]!;
        lines[m.line] = `${indent}// Mirrors: ${m.sources.join(' ')} kernel:${m.kernelHash} source:${m.sourceHash}`;
      }
      writeFileSync(`${root}${file}`, lines.join('\n'));
    }
    console.log(`check-mirrors: ${mirrors.length} markers updated`);
  } else {
    const stale = staleMirrors(mirrors);
    for (const { mirror, moved } of stale) {
      console.error(`${mirror.file}:${mirror.line + 1}: ${mirror.kernelFunction} mirrors ${mirror.sources.join(', ')}: ${moved} changed since the marker was written`);
    }
    if (stale.length > 0) {
      console.error('check-mirrors: make both sides agree, then run npx tsx scripts/check-mirrors.ts --update');
      process.exit(1);
    }
    console.log(`check-mirrors: ${mirrors.length} kernel and launcher functions match the TypeScript they mirror`);
  }
}
