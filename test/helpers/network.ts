import os from 'node:os';

/** An address of this machine that is not loopback: requests from it are not local. */
export function lanAddress(): string {
  const candidates = Object.values(os.networkInterfaces())
    .flat()
    .filter((a) => a && !a.internal && a.family === 'IPv4');
  if (!candidates.length) throw new Error('this test needs a network interface besides loopback');
  return candidates[0]!.address;
}
