import autocannon from 'autocannon';
import { photos24mp } from './lib/inputs.js';
import { BENCH_KEY, startDarkroom, uploadFile, waitAllDone } from './lib/processes.js';
import type { BenchEntry } from './report.js';

interface Load {
  rps: number;
  p50: number;
  p99: number;
}

function cannon(url: string, seconds: number): Promise<Load> {
  return new Promise((resolve, reject) => {
    autocannon(
      { url, connections: 10, duration: seconds, headers: { authorization: `Bearer ${BENCH_KEY}` } },
      (err, result) => {
        if (err) return reject(err);
        if (result.non2xx) return reject(new Error(`${result.non2xx} non-2xx answers from ${url}`));
        resolve({ rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99 });
      },
    );
  });
}

/** GET latency under autocannon load, idle and while both workers process 24 MP photos. */
export async function latencyBench(options: { quick: boolean }): Promise<BenchEntry[]> {
  const seconds = options.quick ? 3 : 10;
  const photos = await photos24mp(options.quick ? 4 : 10);
  const server = await startDarkroom(['--workers', '2']);
  const entries: BenchEntry[] = [];
  try {
    const target = await uploadFile(server.url, photos[0]!, 'target.jpg');
    await waitAllDone(server.url, [target]);
    for (const [name, path] of [
      ['GET /v1/image/{id}', `/v1/image/${target}`],
      ['GET /v1/image/{id}/metadata', `/v1/image/${target}/metadata`],
    ] as const) {
      const idle = await cannon(server.url + path, seconds);
      // Keep both workers busy for the whole window: more photos than they can finish.
      const busyIds: string[] = [];
      for (let i = 0; i < (options.quick ? 8 : 24); i++) busyIds.push(await uploadFile(server.url, photos[i % photos.length]!, `busy-${i}.jpg`));
      const busy = await cannon(server.url + path, seconds);
      await waitAllDone(server.url, busyIds);
      entries.push(
        {
          suite: 'latency',
          name: `${name} p99 while 2 workers process`,
          value: busy.p99,
          unit: 'ms',
          baseline: { name: 'same load, idle server', value: idle.p99 },
          target: '≤ 20 ms',
          met: busy.p99 <= 20,
          notes: `autocannon 10 connections ${seconds}s: busy ${busy.rps.toFixed(0)} req/s p50 ${busy.p50} ms; idle ${idle.rps.toFixed(0)} req/s p50 ${idle.p50} ms`,
        },
        { suite: 'latency', name: `${name} throughput while 2 workers process`, value: busy.rps, unit: 'req/s', baseline: { name: 'idle server', value: idle.rps }, ratio: busy.rps / idle.rps },
      );
    }
  } finally {
    await server.stop();
  }
  return entries;
}
