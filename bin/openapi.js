#!/usr/bin/env node
// `npm run openapi [PATH]`: writes the OpenAPI document of this build to PATH (openapi.json by
// default) for client generators, without starting a server: the document is made from the
// route table and the schemas alone.
import './supported-node.js';
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { buildEngine, root } from './build.js';

buildEngine();
const { openApiDocument } = await import(`${root}/dist/server/http/openapi/document.js`);
// npm runs a script in the package's folder; a relative path is the caller's, as it typed it.
const target = resolve(process.env.INIT_CWD ?? process.cwd(), process.argv[2] ?? 'openapi.json');
writeFileSync(target, openApiDocument().text);
process.stdout.write(`wrote ${target}\n`);
