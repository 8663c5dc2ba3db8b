/**
 * How often the server stopped (crashed, was killed) while a job ran. A job that was running
 * when the process died is found `running` at the next start; each time, this count grows and
 * the job is queued again, until its attempts are used up: then it fails for good instead of
 * taking the server down at every start (jobs/runner.ts `recoverInterrupted`).
 */
export const sql = /* sql */ `
ALTER TABLE jobs ADD COLUMN interruptions INTEGER NOT NULL DEFAULT 0;
`;
