import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { isSupervisorError, parsePid, readPidFile, removePidFileIf, writePidFile } from '../src/index.ts';
import { tempDir } from './_helpers.ts';

describe('writePidFile', () => {
  it('writes the PID as plain decimal plus a newline, mode 0644, leaving no temp file', (t) => {
    const dir = tempDir(t);
    const file = join(dir, 'gateway.pid');
    writePidFile(file, 4242);
    assert.equal(readFileSync(file, 'utf8'), '4242\n');
    assert.match(readFileSync(file, 'utf8'), /^[1-9][0-9]*\n$/);
    assert.equal(statSync(file).mode & 0o777, 0o644);
    writePidFile(file, 4243, { mode: 0o600 });
    assert.equal(readFileSync(file, 'utf8'), '4243\n');
    assert.deepEqual(readdirSync(dir), ['gateway.pid']);
  });

  it('refuses a value that is not a process id', (t) => {
    const file = join(tempDir(t), 'gateway.pid');
    for (const bad of [0, -1, 1.5, 5_000_000]) {
      assert.throws(
        () => writePidFile(file, bad),
        (e) => isSupervisorError(e, 'INVALID_ARGUMENT'),
      );
    }
  });
});

describe('readPidFile', () => {
  it('reads absent, valid and invalid files', (t) => {
    const dir = tempDir(t);
    const file = join(dir, 'gateway.pid');
    assert.deepEqual(readPidFile(file), { kind: 'absent' });
    writeFileSync(file, '123');
    assert.deepEqual(readPidFile(file), { kind: 'pid', pid: 123 });
    for (const bad of [
      '',
      'abc\n',
      '0\n',
      '-5\n',
      '12 34\n',
      '4194305\n',
      '007\n',
      `${'1'.repeat(40)}\n`,
      '12\n\n',
    ]) {
      writeFileSync(file, bad);
      assert.equal(readPidFile(file).kind, 'invalid', JSON.stringify(bad));
    }
  });

  it('never follows a symlink or reads a directory', (t) => {
    const dir = tempDir(t);
    writeFileSync(join(dir, 'target'), '55\n');
    symlinkSync(join(dir, 'target'), join(dir, 'link.pid'));
    assert.equal(readPidFile(join(dir, 'link.pid')).kind, 'invalid');
    mkdirSync(join(dir, 'dir.pid'));
    assert.equal(readPidFile(join(dir, 'dir.pid')).kind, 'invalid');
  });
});

describe('parsePid', () => {
  it('accepts the largest Linux PID and nothing above it', () => {
    assert.deepEqual(parsePid('4194304\n'), { kind: 'pid', pid: 4194304 });
    assert.equal(parsePid('4194305').kind, 'invalid');
  });
});

describe('removePidFileIf', () => {
  it('deletes only when the file still holds the judged PID', (t) => {
    const file = join(tempDir(t), 'gateway.pid');
    writePidFile(file, 100);
    assert.equal(removePidFileIf(file, 101), false);
    assert.equal(readFileSync(file, 'utf8'), '100\n');
    assert.equal(removePidFileIf(file, 100), true);
    assert.deepEqual(readPidFile(file), { kind: 'absent' });
    assert.equal(removePidFileIf(file, 100), false);
  });

  it('removes an invalid file only when asked for invalid content', (t) => {
    const file = join(tempDir(t), 'gateway.pid');
    writeFileSync(file, 'garbage');
    assert.equal(removePidFileIf(file, 5), false);
    assert.equal(removePidFileIf(file, undefined), true);
    assert.deepEqual(readPidFile(file), { kind: 'absent' });
  });
});
