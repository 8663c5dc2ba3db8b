import fs from 'node:fs';
import path from 'node:path';
import type { AnswerCheckOptions } from '../../server/http/openapi/check-answers.js';

/**
 * The folder, named by the global setup (test/global-setup.ts), where every test process notes
 * which operation each checked answer was and every answer that did not match the document:
 * test servers run in several worker processes, and only the end of the run sees them all.
 */
export const ANSWER_LOG_ENV = 'DARKROOM_TEST_ANSWER_LOG_DIR';

/** What a test server reports its checked answers to; nothing outside a run with the global setup. */
export function answerLog(): AnswerCheckOptions {
  const dir = process.env[ANSWER_LOG_ENV];
  if (!dir) return {};
  const file = path.join(dir, `${process.pid}.log`);
  // Synchronous appends: a worker process may be ended at any moment after its last test.
  const note = (line: string) => fs.appendFileSync(file, `${line.replaceAll('\n', ' ')}\n`);
  return {
    onAnswer: (operationId, status) => note(`answer ${operationId} ${status}`),
    onMismatch: (problem) => note(`mismatch ${problem}`),
  };
}

export interface AnswerLogSummary {
  operations: Set<string>;
  mismatches: string[];
}

export function readAnswerLog(dir: string): AnswerLogSummary {
  const summary: AnswerLogSummary = { operations: new Set(), mismatches: [] };
  for (const name of fs.readdirSync(dir)) {
    for (const line of fs.readFileSync(path.join(dir, name), 'utf8').split('\n')) {
      if (line.startsWith('answer ')) summary.operations.add(line.split(' ')[1]!);
      else if (line.startsWith('mismatch ')) summary.mismatches.push(line.slice('mismatch '.length));
    }
  }
  return summary;
}
