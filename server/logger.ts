import pino, { type Logger } from 'pino';

/**
 * Logs go to stderr as JSON lines: stdout is kept for the one "darkroom listening on …" line
 * (and the bootstrap key) that scripts and the desktop shell read.
 */
export function createLogger(level: string): Logger {
  return pino(
    {
      level,
      base: { app: 'darkroom' },
      redact: { paths: ['req.headers.authorization', 'req.headers["x-api-key"]', 'req.headers.cookie'], censor: '[redacted]' },
    },
    pino.destination({ fd: 2, sync: false }),
  );
}
