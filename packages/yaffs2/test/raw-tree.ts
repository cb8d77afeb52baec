/**
 * Test helper: two host trees compared with names as raw bytes (names need not be UTF-8) —
 * types, modes, modification times, file bytes, link counts, symlink targets. Used by the
 * streaming import and extract tests. No upstream counterpart.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';

function list(root: Buffer, d: Buffer = root, out: string[] = []): string[] {
  for (const name of fs.readdirSync(d, { encoding: 'buffer' }).sort(Buffer.compare)) {
    const p = Buffer.concat([d, Buffer.from('/'), name]);
    out.push(p.subarray(root.length).toString('hex'));
    if (fs.lstatSync(p).isDirectory()) list(root, p, out);
  }
  return out;
}

/** `got` holds what `want` holds (see the file comment); `mtime: false` leaves times out. */
export function sameHostTree(want: string, got: string, check: { mtime?: boolean } = {}): void {
  const names = list(Buffer.from(want));
  assert.deepEqual(list(Buffer.from(got)).map((h) => Buffer.from(h, 'hex').toString()), names.map((h) => Buffer.from(h, 'hex').toString()));
  for (const rel of names) {
    const a = Buffer.concat([Buffer.from(want), Buffer.from(rel, 'hex')]);
    const b = Buffer.concat([Buffer.from(got), Buffer.from(rel, 'hex')]);
    const what = Buffer.from(rel, 'hex').toString();
    const sa = fs.lstatSync(a);
    const sb = fs.lstatSync(b);
    assert.equal(sb.mode, sa.mode, `${what}: mode`);
    assert.equal(sb.rdev, sa.rdev, `${what}: rdev`);
    if (sa.isFile()) {
      assert.deepEqual(fs.readFileSync(b), fs.readFileSync(a), `${what}: contents`);
      assert.equal(sb.nlink, sa.nlink, `${what}: links`);
    }
    if (!sa.isSymbolicLink() && check.mtime !== false) assert.equal(Math.floor(sb.mtimeMs / 1000), Math.floor(sa.mtimeMs / 1000), `${what}: mtime`);
    if (sa.isSymbolicLink()) assert.deepEqual(fs.readlinkSync(b, { encoding: 'buffer' }), fs.readlinkSync(a, { encoding: 'buffer' }), `${what}: target`);
  }
}
