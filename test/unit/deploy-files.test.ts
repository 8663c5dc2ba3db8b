/**
 * The container image and the example cluster (docs/deploy.md) cannot be built here (no container
 * engine), so what can drift is checked as text: the image runs the engine as `npm run serve`
 * does, not as root, with a health check on /readyz; the compose file's settings are real options
 * and make its nodes one cluster behind a load balancer that checks each of them.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { OPTION_SPECS, envName } from '../../server/config.js';
import { ENGINE_ENV, ENGINE_NODE_FLAGS } from '../../server/node-flags.js';
import { ROOT } from '../helpers/child.js';

const read = (file: string) => fs.readFileSync(path.join(ROOT, file), 'utf8');

/** The Dockerfile's instructions of the final stage, continuation lines joined. */
function finalStage(dockerfile: string): string[] {
  const lines = dockerfile.replace(/\\\n\s*/g, ' ').split('\n').map((l) => l.trim());
  const stages = lines.reduce<string[][]>((acc, line) => (line.startsWith('FROM ') ? [...acc, [line]] : (acc.at(-1)?.push(line), acc)), []);
  return stages.at(-1)!.filter((l) => l && !l.startsWith('#'));
}

describe('the Dockerfile', () => {
  const stage = finalStage(read('Dockerfile'));
  const instruction = (name: string) => stage.filter((l) => l.startsWith(`${name} `)).map((l) => l.slice(name.length + 1));

  it('runs on Node 24, as an unprivileged user', () => {
    expect(instruction('FROM')[0]).toMatch(/^node:24\b/);
    const users = instruction('USER');
    expect(users.length).toBeGreaterThan(0);
    expect(users.at(-1)).not.toMatch(/^(root|0)(:|$)/);
  });

  it('starts the engine with its Node flags and environment, listening beyond loopback', () => {
    const cmd = JSON.parse(instruction('CMD')[0]!) as string[];
    expect(cmd[0]).toBe('node');
    expect(cmd.filter((arg) => arg.startsWith('--'))).toEqual([...ENGINE_NODE_FLAGS]);
    expect(cmd.slice(-2)).toEqual(['bin/darkroom.js', 'serve']);
    const env = instruction('ENV').join(' ');
    for (const [name, value] of Object.entries(ENGINE_ENV)) expect(env).toContain(`${name}=${value}`);
    expect(env).toContain(`${envName('host')}=0.0.0.0`);
  });

  it('checks its health on /readyz at the port it listens on', () => {
    const check = instruction('HEALTHCHECK')[0]!;
    expect(check).toContain('/readyz');
    expect(check).toContain('DARKROOM_PORT');
  });
});

describe('the example cluster (compose.yaml)', () => {
  const compose = parse(read('compose.yaml'), { merge: true }) as { services: Record<string, { environment?: Record<string, string>; volumes?: string[] }> };
  const nodes = Object.entries(compose.services).filter(([, service]) => service.environment?.[envName('database-url')]);
  const knownEnv = new Set(OPTION_SPECS.map((spec) => envName(spec.flag)));

  it('has three nodes on one database and one bucket, each with its own name and scratch folder', () => {
    expect(nodes).toHaveLength(3);
    const envs = nodes.map(([, service]) => service.environment!);
    for (const name of ['database-url', 'storage', 's3-bucket', 's3-endpoint']) {
      expect(new Set(envs.map((env) => env[envName(name)])).size, name).toBe(1);
    }
    expect(envs[0]![envName('storage')]).toBe('s3');
    expect(new Set(envs.map((env) => env[envName('node-id')])).size).toBe(3);
    expect(new Set(nodes.map(([, service]) => service.volumes?.[0]?.split(':')[0])).size).toBe(3);
  });

  it('sets only options Darkroom has', () => {
    expect(nodes.length).toBeGreaterThan(0);
    for (const [, service] of nodes) {
      for (const name of Object.keys(service.environment!).filter((n) => n.startsWith('DARKROOM_'))) {
        expect(knownEnv, name).toContain(name);
      }
    }
  });

  it('puts every node behind the load balancer, checked on /readyz', () => {
    const haproxy = read('deploy/haproxy.cfg');
    expect(haproxy).toMatch(/option httpchk GET \/readyz/);
    expect(haproxy).toMatch(/default-server[^\n]*\bcheck\b/);
    for (const [name] of nodes) expect(haproxy).toMatch(new RegExp(`^\\s*server ${name} ${name}:7410`, 'm'));
  });
});
