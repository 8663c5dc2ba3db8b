/**
 * The IPC channels between the preload bridge and the main process, and the validation of
 * what arrives on them. Inputs from the renderer are `unknown` until checked here.
 * preload.cts repeats the channel names (a sandboxed preload cannot import local modules);
 * a test keeps the two lists equal.
 */
import { isSafeExternalUrl } from './security.js';

export const CHANNELS = {
  openDataFolder: 'darkroom:open-data-folder',
  openExternal: 'darkroom:open-external',
  chooseFolder: 'darkroom:choose-folder',
} as const;

export type Channel = (typeof CHANNELS)[keyof typeof CHANNELS];

export class IpcInputError extends Error {}

/** Channels that take no arguments get none: anything sent along is a sign of a confused or hostile page. */
export function expectNoArgs(channel: Channel, args: unknown[]): void {
  if (args.length !== 0) throw new IpcInputError(`${channel} takes no arguments`);
}

/** open-external takes exactly one link that is safe to give to the operating system. */
export function parseOpenExternalArgs(args: unknown[]): string {
  const [url] = args;
  if (args.length !== 1 || !isSafeExternalUrl(url)) throw new IpcInputError(`${CHANNELS.openExternal} takes one https or mailto link`);
  return url;
}
