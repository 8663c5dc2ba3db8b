#!/usr/bin/env node
// The `darkroom` command. Runs the compiled server; `npm run build` (or `npm start`) compiles it.
import './supported-node.js';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('../dist/server/cli.js', import.meta.url));
if (!existsSync(cli)) {
  process.stderr.write('darkroom: not built yet; run `npm run build` first\n');
  process.exit(1);
}
const { main } = await import(cli);
await main();
