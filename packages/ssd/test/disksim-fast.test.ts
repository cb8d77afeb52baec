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
