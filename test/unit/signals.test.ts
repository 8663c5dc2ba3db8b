/** The in-process adapter of the cluster signals port (cluster/signals.ts). */
import { describe, expect, it } from 'vitest';
import { createInProcessSignals } from '../../server/cluster/in-process-signals.js';

describe('in-process cluster signals', () => {
  it('delivers each payload once, synchronously, to every subscriber of its channel only', () => {
    const signals = createInProcessSignals();
    const got: string[] = [];
    signals.subscribe('image.status', (e) => got.push(`a:${e.id}:${e.status}`));
    signals.subscribe('image.status', (e) => got.push(`b:${e.id}`));
    signals.subscribe('jobs', () => got.push('jobs'));
    signals.publish('image.status', { id: 'i1', customer: 'c', status: 'done' });
    expect(got).toEqual(['a:i1:done', 'b:i1']);
    signals.publish('jobs', {});
    expect(got).toEqual(['a:i1:done', 'b:i1', 'jobs']);
    expect(signals.crossProcess).toBe(false);
  });

  it('stops delivering to one that unsubscribed, and a subscriber that throws keeps the others from nothing', () => {
    const signals = createInProcessSignals();
    const got: string[] = [];
    const off = signals.subscribe('jobs', () => got.push('first'));
    signals.subscribe('jobs', () => {
      throw new Error('broken listener');
    });
    signals.subscribe('jobs', () => got.push('last'));
    expect(() => signals.publish('jobs', {})).not.toThrow();
    off();
    signals.publish('jobs', {});
    expect(got).toEqual(['first', 'last', 'last']);
    signals.close();
    signals.publish('jobs', {});
    expect(got).toHaveLength(3);
  });
});
