'use strict';
// What bin/yaffs2.js needs to start the compiled CLI fast: whether dist/yaffs2.cjs is current
// (one stat per source file the build recorded in dist/yaffs2.inputs.json, no directory walk),
// and running the bundle through V8's code cache (dist/yaffs2.cjs.cache: the bytecode of the
// functions a run compiled, so that a start neither parses the 0.5 MB bundle nor compiles the
// functions import and extract use; Node 20 has no compile cache of its own). The cache is
// written by the build's training runs (bin/build.js) or, when missing, stale or rejected, at
// the exit of the run that found it so; it is used only when its header names this bundle (size,
// mtime, inode) and this Node (version, arch), its checksum matches, and V8 accepts it
// (script.cachedDataRejected false, which also checks V8's version and flags); anything else runs
// the bundle compiled from its source, as without a cache. No upstream counterpart.
const fs = require('node:fs');
const path = require('node:path');

const packageDir = path.join(__dirname, '..');
const bundlePath = path.join(packageDir, 'dist', 'yaffs2.cjs');
/** The files the bundle was built from (paths relative to the package), written by bin/build.js. */
const inputsPath = path.join(packageDir, 'dist', 'yaffs2.inputs.json');
const cachePath = path.join(packageDir, 'dist', 'yaffs2.cjs.cache');
/** Bytes of the cache file's header: one line of text padded with spaces (the data after it stays 4-byte aligned). */
const HEADER_BYTES = 128;
const MAGIC = 'yaffs2-v8-code-cache-1';

/**
 * True when dist/yaffs2.cjs exists and is newer than every source it was built from (and the
 * build script). A recorded source that is gone makes it stale, unless its whole directory is
 * gone (an install without the sources: nothing to be newer than the bundle).
 */
// Mirrors: packages/yaffs2/src/startup-snapshot.ts#bundleIsCurrent kernel:05315d84 source:7c472503
function bundleIsCurrent() {
  let built;
  let inputs;
  try {
    built = fs.statSync(bundlePath);
    inputs = JSON.parse(fs.readFileSync(inputsPath, 'utf8'));
  } catch {
    return false;
  }
  if (!Array.isArray(inputs) || inputs.length === 0) return false;
  for (const input of inputs) {
    const file = path.join(packageDir, String(input));
    const st = fs.statSync(file, { throwIfNoEntry: false });
    if (st === undefined) {
      if (fs.existsSync(path.dirname(file))) return false;
    } else if (st.mtimeMs >= built.mtimeMs) {
      return false;
    }
  }
  return true;
}

/** A 4-lane sum of the data's 32-bit words (and its tail bytes): a changed byte changes it. */
function checksum(data) {
  let bytes = data;
  if (bytes.byteOffset % 4 !== 0) bytes = Buffer.from(bytes);
  const words = bytes.length >> 5 << 3;
  const w = new Int32Array(bytes.buffer, bytes.byteOffset, words);
  let a = 0;
  let b = 0;
  let c = 0;
  let d = 0;
  for (let i = 0; i < words; i += 8) {
    a = (a + w[i] + w[i + 4]) | 0;
    b = (b + (w[i + 1] ^ w[i + 5])) | 0;
    c = (c + w[i + 2] + w[i + 6]) | 0;
    d = (d ^ (w[i + 3] + w[i + 7])) | 0;
    a = (a + c) | 0;
  }
  for (let i = words * 4; i < bytes.length; i++) a = (Math.imul(a, 31) + bytes[i]) | 0;
  return `${(a >>> 0).toString(16)}.${(b >>> 0).toString(16)}.${(c >>> 0).toString(16)}.${(d >>> 0).toString(16)}`;
}

/** What a cache must have been made for: this Node and this bundle file. */
function cacheKey(st) {
  return `${process.version} ${process.arch} ${st.size} ${st.mtimeMs} ${st.ino}`;
}

/** The cached data in dist/yaffs2.cjs.cache when its header matches `key` and its checksum its data, else undefined. */
function readCache(key) {
  let file;
  try {
    file = fs.readFileSync(cachePath);
  } catch {
    return undefined;
  }
  if (file.length <= HEADER_BYTES || file[HEADER_BYTES - 1] !== 0x0a) return undefined;
  const [magic, ...rest] = file.toString('latin1', 0, HEADER_BYTES - 1).trimEnd().split(' ');
  const sum = rest.pop();
  if (magic !== MAGIC || rest.join(' ') !== key) return undefined;
  const data = file.subarray(HEADER_BYTES);
  return checksum(data) === sum ? data : undefined;
}

/** Writes the script's code cache for `key` (a temporary file renamed into place); any failure leaves things as they were. */
function writeCache(script, key) {
  const temporary = `${cachePath}.${process.pid}.tmp`;
  try {
    fs.accessSync(path.dirname(cachePath), fs.constants.W_OK);
    const data = script.createCachedData();
    const text = `${MAGIC} ${key} ${checksum(data)}`;
    if (text.length >= HEADER_BYTES) return;
    const header = Buffer.alloc(HEADER_BYTES, 0x20);
    header.write(text, 'latin1');
    header[HEADER_BYTES - 1] = 0x0a;
    fs.writeFileSync(temporary, Buffer.concat([header, data]));
    fs.renameSync(temporary, cachePath);
  } catch {
    try {
      fs.rmSync(temporary, { force: true });
    } catch {
      // nothing more to do: the next run tries again
    }
  }
}

/**
 * Runs dist/yaffs2.cjs as require() would (a CommonJS module in require.cache, its own require),
 * compiled from the code cache when one fits (see the file comment). At exit, a run that found
 * no usable cache (or one told to by YAFFS2_CODE_CACHE=write: the build's training runs) writes
 * one. YAFFS2_CODE_CACHE=off neither reads nor writes it (bench/yaffs2-speed.ts's comparison).
 */
function runBundle() {
  const vm = require('node:vm');
  // The Module class without require('node:module'), which loads the ES-module loader.
  const Module = module.constructor;
  // The key from the very file the source is read from (a rebuild may rename a new bundle in
  // at any moment: a cache must never meet a source it was not made from).
  const fd = fs.openSync(bundlePath, 'r');
  let key;
  let source;
  try {
    key = cacheKey(fs.fstatSync(fd));
    source = fs.readFileSync(fd, 'utf8');
  } finally {
    fs.closeSync(fd);
  }
  const mode = process.env.YAFFS2_CODE_CACHE;
  const cachedData = mode === 'off' ? undefined : readCache(key);
  // The wrapper starts on the bundle's first line: its line numbers stay those of the file.
  const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) { ${source}\n});`, { filename: bundlePath, cachedData });
  if (mode !== 'off' && (cachedData === undefined || script.cachedDataRejected === true || mode === 'write')) {
    process.once('exit', () => writeCache(script, key));
  }
  const wrapper = script.runInThisContext();
  const mod = new Module(bundlePath, module);
  mod.filename = bundlePath;
  mod.paths = Module._nodeModulePaths(path.dirname(bundlePath));
  // The bundle requires Node's built-in modules only (everything else is inlined).
  const bundleRequire = (id) => mod.require(id);
  bundleRequire.cache = require.cache;
  bundleRequire.main = require.main;
  bundleRequire.resolve = (request, options) => Module._resolveFilename(request, mod, false, options);
  require.cache[bundlePath] = mod;
  wrapper.call(mod.exports, mod.exports, bundleRequire, mod, bundlePath, path.dirname(bundlePath));
  mod.loaded = true;
}

module.exports = { packageDir, bundlePath, inputsPath, cachePath, bundleIsCurrent, runBundle, checksum };
