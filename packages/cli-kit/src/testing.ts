/**
 * Test helpers for the packages' launchers (`@flashdiff/cli-kit/testing`; tests only, never
 * imported by a CLI). The shell headers of bin/ssdsim.js and bin/yaffs2.js unset
 * NODE_EXTRA_CA_CERTS before starting Node — neither opens a TLS connection, and Node parses the
 * named bundle at every start — while `node bin/….js` leaves the variable to Node. One check for
 * both.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Runs `bin --version` as a command and through `node bin`, with NODE_EXTRA_CA_CERTS naming a file
 * that does not exist: Node warns on stderr when it cannot load the bundle (the sign that it
 * tried), so the command must print no warning and its version, and `node bin` must warn.
 */
export function assertLauncherDropsExtraCaCerts(bin: string, name: string): void {
  const env = { ...process.env, NODE_EXTRA_CA_CERTS: join(tmpdir(), `${name}-no-such-ca-bundle.pem`) };
  const warning = /Ignoring extra certs/;
  const direct = spawnSync(process.execPath, [bin, '--version'], { encoding: 'utf8', env });
  assert.equal(direct.status, 0, direct.stderr);
  assert.match(direct.stderr, warning);
  const command = spawnSync(bin, ['--version'], { encoding: 'utf8', env });
  assert.equal(command.status, 0, command.stderr);
  assert.match(command.stdout, /^\d+\.\d+\.\d+\n$/);
  assert.doesNotMatch(command.stderr, warning);
}
