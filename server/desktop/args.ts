import { parseArgs } from 'node:util';
import { OPTION_SPECS, type RawConfig } from '../config.js';

/**
 * The server options among the desktop app's command-line arguments (`npm start -- --watch
 * ~/Pictures`), in the shape parseConfig takes. Anything else (Chromium's and Electron's own
 * switches, a file the OS asked the app to open) is left alone rather than refused.
 */
export function serverOptionsFromArgs(argv: string[]): RawConfig {
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean }> = {};
  for (const spec of OPTION_SPECS) {
    // A switch stands alone (`--s3-force-path-style`) or takes its value inline (`=false`).
    options[spec.flag] = 'repeatable' in spec && spec.repeatable ? { type: 'string', multiple: true } : { type: spec.arg === 'bool' ? 'boolean' : 'string' };
  }
  const { values } = parseArgs({ args: argv, options, strict: false, allowPositionals: true });
  const raw: RawConfig = {};
  for (const spec of OPTION_SPECS) {
    const value = values[spec.flag] === true ? 'true' : values[spec.flag];
    if (typeof value === 'string' || (Array.isArray(value) && value.every((v) => typeof v === 'string'))) {
      raw[spec.key] = value as string | string[];
    }
  }
  return raw;
}
