import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { computeBackoffDelay, DEFAULT_RECONNECT_OPTIONS } from '../src/index.ts';

describe('computeBackoffDelay', () => {
  it('follows 800, 1360, 2312, 3930, 6682, 11359, 15000, 15000 with random=0.5', () => {
    const delays = Array.from({ length: 8 }, (_, n) => computeBackoffDelay(n, {}, () => 0.5));
    assert.deepEqual(delays, [800, 1360, 2312, 3930, 6682, 11359, 15000, 15000]);
  });

  it('applies exactly -20 % with random=0 and +20 % with random=1, after the cap', () => {
    for (let n = 0; n < 10; n++) {
      const nominal = Math.min(15_000, 800 * 1.7 ** n);
      assert.equal(
        computeBackoffDelay(n, {}, () => 0),
        Math.round(nominal * 0.8),
      );
      assert.equal(
        computeBackoffDelay(n, {}, () => 1),
        Math.round(nominal * 1.2),
      );
    }
    assert.equal(
      computeBackoffDelay(20, {}, () => 1),
      18_000,
    );
  });

  it('honours custom settings', () => {
    const options = { initialDelayMs: 100, multiplier: 2, maxDelayMs: 1000, jitterRatio: 0 };
    const delays = Array.from({ length: 6 }, (_, n) => computeBackoffDelay(n, options));
    assert.deepEqual(delays, [100, 200, 400, 800, 1000, 1000]);
  });

  it('exposes the spec defaults', () => {
    assert.deepEqual(
      { ...DEFAULT_RECONNECT_OPTIONS },
      {
        initialDelayMs: 800,
        multiplier: 1.7,
        maxDelayMs: 15_000,
        jitterRatio: 0.2,
      },
    );
  });
});
