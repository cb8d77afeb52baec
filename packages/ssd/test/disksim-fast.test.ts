// parseDiskSim's one-pass path for the common line (src/traces/disksim.ts fastRequest) must accept
// exactly what the checked path accepts and build the same requests: lines it declines (a fraction
// in the type or device, other whitespace, signs, ranges past 2^53 bytes) go to the checked path,
// which either accepts them as before or names what is wrong.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isSsdError, parseDiskSim } from '../src/index.ts';

describe('DiskSim parsing: the one-pass path and the checked path agree', () => {
  test('common lines, and lines only the checked path accepts, give the same requests', () => {
    const text = [
      '0 0 8 16 0',
      '1500.25\t1  24   8 1',
      '  2000 0 0 1 1  ',
      '3000 2.5 40 8 0', // a fractional device: the checked path accepts it
      '4000 0 48 8 1.0', // type 1.0: accepted as a read by the checked path
      '5000\u000b0 56 8 0', // a vertical tab separates the columns (\\s in the checked path)
      '# a comment',
      '',
      `6000 0 ${2 ** 44 - 8} 8 0`, // ends exactly at 2^53 bytes
    ].join('\n');
    const got = parseDiskSim(text, 't');
    assert.deepEqual(got, [
      { arrivalNs: 0, device: 0, sector: 8, sectors: 16, isRead: false, line: 1 },
      { arrivalNs: 1500.25, device: 1, sector: 24, sectors: 8, isRead: true, line: 2 },
      { arrivalNs: 2000, device: 0, sector: 0, sectors: 1, isRead: true, line: 3 },
      { arrivalNs: 3000, device: 2.5, sector: 40, sectors: 8, isRead: false, line: 4 },
      { arrivalNs: 4000, device: 0, sector: 48, sectors: 8, isRead: true, line: 5 },
      { arrivalNs: 5000, device: 0, sector: 56, sectors: 8, isRead: false, line: 6 },
      { arrivalNs: 6000, device: 0, sector: 2 ** 44 - 8, sectors: 8, isRead: false, line: 9 },
    ]);
  });

  test('numbers of up to 15 digits read as they are summed, longer ones and fractions as Number() reads them', () => {
    // Seeded lines (mulberry32): every field's digits, leading zeros and lengths of 1 to 19 digits,
    // against the same numbers read by Number().
    let state = 0x2f6b9a1d;
    const next = (): number => {
      state = (state + 0x6d2b79f5) | 0;
      let t = Math.imul(state ^ (state >>> 15), 1 | state);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
    };
    const digits = (n: number): string => Array.from({ length: n }, () => String(Math.floor(next() * 10))).join('');
    const lines: string[] = [];
    const expected: { arrivalNs: number; device: number; sector: number; sectors: number; isRead: boolean; line: number }[] = [];
    let arrival = 0;
    for (let i = 0; i < 400; i++) {
      arrival += 1 + Math.floor(next() * 1000);
      const fraction = next() < 0.3 ? `.${digits(1 + Math.floor(next() * 6))}` : '';
      const a = `${'0'.repeat(Math.floor(next() * 3))}${arrival}${fraction}`;
      const device = digits(1 + Math.floor(next() * 19));
      const sector = `${'0'.repeat(Math.floor(next() * 4))}${Math.floor(next() * 2 ** 40)}`;
      const sectors = String(1 + Math.floor(next() * 2 ** (next() < 0.5 ? 8 : 30)));
      const type = next() < 0.5 ? '0' : '1';
      lines.push(`${a} ${device} ${sector} ${sectors} ${type}`);
      if (!Number.isSafeInteger(Number(device))) continue; // the checked path names these
      expected.push({ arrivalNs: Number(a), device: Number(device), sector: Number(sector), sectors: Number(sectors), isRead: type === '1', line: i + 1 });
    }
    const kept = lines.filter((l) => Number.isSafeInteger(Number(l.split(' ')[1])));
    const got = parseDiskSim(kept.join('\n'), 't');
    assert.equal(got.length, expected.length);
    got.forEach((r, k) => assert.deepEqual({ ...r, line: 0 }, { ...expected[k]!, line: 0 }, kept[k]));
  });

  const bad: [string, RegExp][] = [
    ['0 0 8 0 0', /size must be an integer ≥ 1|size ≥ 1/],
    ['0 0 8 8 2', /type must be 0 \(write\) or 1 \(read\)/],
    ['-5 0 8 8 0', /arrival time '-5' is not a non-negative number/],
    ['0 0 8.5 8 0', /lba and size must be integers/],
    ['0 0 8 8', /expected 5 columns/],
    ['0 0 8 8 0 9', /expected 5 columns/],
    ['.5 0 8 8 0', /arrival time '.5' is not a non-negative number/],
    ['5. 0 8 8 0', /arrival time '5.' is not a non-negative number/],
    [`0 0 ${2 ** 44 - 7} 8 0`, /ends beyond 2\^53 bytes/],
  ];
  for (const [line, message] of bad) {
    test(`'${line}' is TRACE_PARSE naming the line`, () => {
      assert.throws(
        () => parseDiskSim(`0 0 0 8 0\n${line}\n`, 'bad.trace'),
        (e: unknown) => isSsdError(e, 'TRACE_PARSE') && e.message.startsWith('bad.trace:2: ') && message.test(e.message),
      );
    });
  }
});
