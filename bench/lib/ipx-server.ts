/**
 * unjs/ipx as its users run it: `createIPX` over a folder of originals (`ipxFSStorage`), served by
 * its own Node listener (`createIPXNodeServer`), in a process of its own so its memory and CPU
 * are its own. Nothing tuned: ipx's defaults (sharp's default concurrency, libuv's default pool,
 * no result cache). `node ipx-server.js DIR` prints `ipx listening on URL` once it listens on a
 * free loopback port. ipx's CLI (`ipx serve`) does the same through listhen, which picks a port
 * of its own and prints more than a bench wants to parse.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createIPX, createIPXNodeServer, ipxFSStorage } from 'ipx';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: node ipx-server.js DIR');
  process.exit(2);
}
const ipx = createIPX({ storage: ipxFSStorage({ dir }) });
const server = http.createServer(createIPXNodeServer(ipx));
server.listen(0, '127.0.0.1', () => {
  console.log(`ipx listening on http://127.0.0.1:${(server.address() as AddressInfo).port}`);
});
process.once('SIGTERM', () => server.close(() => process.exit(0)));
