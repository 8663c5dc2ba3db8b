/** The node registry through the database port, on every dialect (test/helpers/database.ts). */
import { describe, expect, it } from 'vitest';
import { DIALECTS } from '../../helpers/database.js';

describe.each(DIALECTS)('nodes repository on $dialect', ({ open }) => {
  it('registers a node up and seen now, with no jobs running', async () => {
    const { repos } = await open();
    await repos.nodes.register({ id: 'a', version: '1.0.0', at: 1_000 });
    expect(await repos.nodes.list()).toEqual([{ id: 'a', version: '1.0.0', started_at: 1_000, last_seen_at: 1_000, jobs_running: 0, stopped_at: null }]);
  });

  it('keeps the heartbeat and the jobs running, and says when the row is gone', async () => {
    const { repos } = await open();
    await repos.nodes.register({ id: 'a', version: '1', at: 1_000 });
    expect(await repos.nodes.heartbeat('a', 6_000, 3)).toBe(true);
    expect(await repos.nodes.list()).toMatchObject([{ id: 'a', started_at: 1_000, last_seen_at: 6_000, jobs_running: 3 }]);
    expect(await repos.nodes.heartbeat('nope', 6_000, 1)).toBe(false);
  });

  it('marks a clean stop, and a restart under the same id takes the row over as new', async () => {
    const { repos } = await open();
    await repos.nodes.register({ id: 'a', version: '1', at: 1_000 });
    await repos.nodes.heartbeat('a', 2_000, 2);
    await repos.nodes.markStopped('a', 3_000);
    expect(await repos.nodes.list()).toMatchObject([{ id: 'a', last_seen_at: 2_000, jobs_running: 0, stopped_at: 3_000 }]);
    await repos.nodes.register({ id: 'a', version: '2', at: 9_000 });
    expect(await repos.nodes.list()).toEqual([{ id: 'a', version: '2', started_at: 9_000, last_seen_at: 9_000, jobs_running: 0, stopped_at: null }]);
  });

  it('marks every other running node stopped, leaving those stopped before as they were', async () => {
    const { repos } = await open();
    await repos.nodes.register({ id: 'old', version: '1', at: 1_000 });
    await repos.nodes.markStopped('old', 1_500);
    await repos.nodes.register({ id: 'crashed', version: '1', at: 2_000 });
    await repos.nodes.heartbeat('crashed', 2_500, 4);
    await repos.nodes.register({ id: 'me', version: '1', at: 3_000 });
    expect(await repos.nodes.markOthersStopped('me', 3_000)).toBe(1);
    const byId = Object.fromEntries((await repos.nodes.list()).map((n) => [n.id, n]));
    expect(byId.old).toMatchObject({ stopped_at: 1_500 });
    expect(byId.crashed).toMatchObject({ stopped_at: 3_000, jobs_running: 0, last_seen_at: 2_500 });
    expect(byId.me).toMatchObject({ stopped_at: null });
  });

  it('lists the most recently started first, and forgets nodes not seen for long', async () => {
    const { repos } = await open();
    await repos.nodes.register({ id: 'b', version: '1', at: 1_000 });
    await repos.nodes.register({ id: 'c', version: '1', at: 3_000 });
    await repos.nodes.register({ id: 'a', version: '1', at: 2_000 });
    expect((await repos.nodes.list()).map((n) => n.id)).toEqual(['c', 'a', 'b']);
    await repos.nodes.heartbeat('b', 5_000, 0);
    expect(await repos.nodes.forget(4_000)).toBe(2);
    expect((await repos.nodes.list()).map((n) => n.id)).toEqual(['b']);
  });
});
