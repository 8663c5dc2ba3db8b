import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ENGINE_ENV, ENGINE_NODE_FLAGS, missingEngineEnv, missingEngineFlags } from '../../server/node-flags.js';
import { ROOT } from '../helpers/child.js';

const read = (file: string) => fs.readFileSync(path.join(ROOT, file), 'utf8');
/** The `--…` flags written between `node` and the script in a command line. */
const nodeFlagsOf = (command: string) => (/\bnode((?:\s+--[\w-]+=\S+)*)\s/.exec(command)?.[1] ?? '').trim().split(/\s+/).filter(Boolean);

describe("the engine's Node flags, one list wherever the engine is started", () => {
  it('npm start and npm run serve pass exactly them', () => {
    const scripts = JSON.parse(read('package.json')).scripts as Record<string, string>;
    expect(nodeFlagsOf(scripts.start!)).toEqual([...ENGINE_NODE_FLAGS]);
    expect(nodeFlagsOf(scripts.serve!)).toEqual([...ENGINE_NODE_FLAGS]);
  });

  it('the desktop engine and the systemd unit in the README use them too', () => {
    const engine = /const ENGINE_NODE_FLAGS = \[([^\]]*)\]/.exec(read('electron/engine.ts'))?.[1];
    expect(engine?.split(',').map((f) => f.trim().replace(/'/g, ''))).toEqual([...ENGINE_NODE_FLAGS]);
    const execStart = read('README.md').split('\n').find((l) => l.startsWith('ExecStart='));
    expect(nodeFlagsOf(execStart!)).toEqual([...ENGINE_NODE_FLAGS]);
  });

  it('the desktop engine and the systemd unit set the engine environment', () => {
    const engine = /const ENGINE_ENV = (\{[^}]*\})/.exec(read('electron/engine.ts'))?.[1];
    expect(engine && JSON.parse(engine.replace(/(\w+):/g, '"$1":').replace(/'/g, '"'))).toEqual(ENGINE_ENV);
    const unit = read('README.md')
      .split('\n')
      .filter((l) => l.startsWith('Environment='))
      .flatMap((l) => l.slice('Environment='.length).split(' '));
    for (const [name, value] of Object.entries(ENGINE_ENV)) expect(unit).toContain(`${name}=${value}`);
  });

  it('names the environment a Linux process lacks, and leaves a value the operator chose', () => {
    expect(missingEngineEnv({}, 'linux')).toEqual(['MALLOC_ARENA_MAX=2', 'MALLOC_MMAP_THRESHOLD_=1048576']);
    expect(missingEngineEnv({ MALLOC_ARENA_MAX: '4' }, 'linux')).toEqual(['MALLOC_MMAP_THRESHOLD_=1048576']);
    expect(missingEngineEnv({}, 'darwin')).toEqual([]);
  });

  it('names the flags a process lacks', () => {
    expect(missingEngineFlags(['--max-semi-space-size=2'])).toEqual(['--initial-old-space-size=64']);
    expect(missingEngineFlags([...ENGINE_NODE_FLAGS, '--inspect'])).toEqual([]);
  });
});
