/**
 * The IPC channels between the preload bridge and the main process, and the validation of
 * what arrives on them. Inputs from the renderer are `unknown` until checked here.
 * preload.cts repeats the channel names (a sandboxed preload cannot import local modules);
 * a test keeps the two lists equal.
 */
export const CHANNELS = {
  openDataFolder: 'darkroom:open-data-folder',
  chooseFolder: 'darkroom:choose-folder',
} as const;

export type Channel = (typeof CHANNELS)[keyof typeof CHANNELS];

export class IpcInputError extends Error {}

/** Channels that take no arguments get none: anything sent along is a sign of a confused or hostile page. */
export function expectNoArgs(channel: Channel, args: unknown[]): void {
  if (args.length !== 0) throw new IpcInputError(`${channel} takes no arguments`);
}
