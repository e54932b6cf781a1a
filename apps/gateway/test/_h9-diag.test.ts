import assert from 'node:assert/strict';
import { readdirSync, readFileSync, realpathSync } from 'node:fs';
import { describe, it } from 'node:test';
import { createTestHome } from './_lifecycle-helpers.ts';

function info(pid: number): string {
  try {
    const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = st.slice(st.lastIndexOf(')') + 2).split(' ');
    return `${pid} state=${rest[0]} ppid=${rest[1]} cmd=${readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').slice(0, 200)}`;
  } catch (e) {
    return `${pid} gone`;
  }
}

describe('diag concurrent starts', () => {
  for (let i = 0; i < 8; i++) {
    it(`round ${i}`, async (t) => {
      const home = await createTestHome(t);
      const [a, b] = await Promise.all([home.cli(['start']), home.cli(['start'])]);
      assert.equal(a.code, 0, a.stderr);
      assert.equal(b.code, 0, b.stderr);
      const pid = home.daemonPid();
      const marked = home.markedProcesses();
      if (marked.length !== 1) {
        console.log('DIAG daemon', pid, 'marked', marked.map(info));
        console.log('DIAG A', a.stdout, a.stderr, 'B', b.stdout, b.stderr);
      }
      assert.equal((await home.cli(['stop'])).code, 0);
    });
  }
});
