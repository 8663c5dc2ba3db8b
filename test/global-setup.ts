import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { ROUTES } from '../server/api/index.js';
import { ANSWER_LOG_ENV, readAnswerLog } from './helpers/answer-log.js';

const INTEGRATION = path.resolve('test/integration');

/**
 * Every answer of a test server is checked against the OpenAPI document where it is sent
 * (server/http/openapi/check-answers.ts); this collects what the test processes noted of them.
 * The run fails if any answer did not match (even one a test expected to fail), and, when the
 * run covered every integration test, if an operation of the document was never exercised:
 * a route no test calls is a route whose answers nobody checked.
 */
export default function setup(project: TestProject) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'darkroom-answers-'));
  process.env[ANSWER_LOG_ENV] = dir;
  return () => {
    try {
      const { operations, mismatches } = readAnswerLog(dir);
      const problems: string[] = [];
      if (mismatches.length) problems.push(`answers that do not match the API description:\n  ${[...new Set(mismatches)].join('\n  ')}`);
      if (coversEveryIntegrationTest(project)) {
        const never = ROUTES.filter((r) => !operations.has(r.operationId)).map((r) => `${r.operationId} (${r.method.toUpperCase()} ${r.path})`);
        if (never.length) problems.push(`operations no integration test exercised:\n  ${never.join('\n  ')}`);
      }
      if (problems.length) throw new Error(problems.join('\n'));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  };
}

function coversEveryIntegrationTest(project: TestProject): boolean {
  if (project.vitest.config.testNamePattern) return false;
  const ran = new Set(project.vitest.state.getFiles().map((f) => f.filepath));
  const all = fs.readdirSync(INTEGRATION).filter((f) => f.endsWith('.test.ts')).map((f) => path.join(INTEGRATION, f));
  return all.every((f) => ran.has(f));
}
