#!/usr/bin/env node
// `npm run serve`: build what is missing (as `npm start` does), then run the headless server.
import './supported-node.js';
import { buildEngine, buildUi, restartWithEngineEnvFirst, root } from './build.js';

await restartWithEngineEnvFirst();
buildEngine();
buildUi();
const { main } = await import(`${root}/dist/server/cli.js`);
await main([process.argv[0], 'darkroom', 'serve', ...process.argv.slice(2)]);
