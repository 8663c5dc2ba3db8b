/**
 * The baseline of the s3 benchmark, run as a process of its own so its memory is its own: a
 * plain lib-storage Upload of a file, streamed from disk, with the SDK's defaults except part
 * size and queue size, which match the sync's. Prints `{ms, peakRss, cpuSeconds}` as JSON.
 *
 *   node dist/bench/s3-baseline.js FILE ENDPOINT BUCKET KEY PART_SIZE QUEUE_SIZE
 */
import fs from 'node:fs';
import { S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';

async function main() {
  const [file, endpoint, bucket, key, partSize, queueSize] = process.argv.slice(2);
  if (!file || !endpoint || !bucket || !key) throw new Error('usage: s3-baseline FILE ENDPOINT BUCKET KEY PART_SIZE QUEUE_SIZE');
  const client = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true });
  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 20);
  const started = performance.now();
  const cpu = process.cpuUsage();
  await new Upload({
    client,
    params: { Bucket: bucket, Key: key, Body: fs.createReadStream(file) },
    partSize: Number(partSize),
    queueSize: Number(queueSize),
  }).done();
  const ms = performance.now() - started;
  const used = process.cpuUsage(cpu);
  clearInterval(sampler);
  client.destroy();
  process.stdout.write(`${JSON.stringify({ ms, peakRss, cpuSeconds: (used.user + used.system) / 1e6 })}\n`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
