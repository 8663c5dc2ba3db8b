import type { Express } from 'express';

interface RouterLayer {
  rawPath?: string | string[];
  route?: { path: string | string[]; methods: Record<string, boolean> };
  handle: { stack?: RouterLayer[] };
}

/**
 * Every route the app answers, as "METHOD /path/:param" (express 5 / router 2: mounted routers
 * keep their mount path in `rawPath`). Lets a test insist that it covers every route, so a new
 * route without a case fails the test instead of going unchecked.
 */
export function listRoutes(app: Express): string[] {
  const out = new Set<string>();
  const walk = (stack: RouterLayer[], prefix: string) => {
    for (const layer of stack) {
      if (layer.route) {
        const paths = Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path];
        for (const method of Object.keys(layer.route.methods)) {
          if (method === '_all') continue;
          for (const p of paths) out.add(`${method.toUpperCase()} ${prefix}${p}`);
        }
      } else if (layer.handle.stack) {
        const mount = typeof layer.rawPath === 'string' && layer.rawPath !== '/' ? layer.rawPath : '';
        walk(layer.handle.stack, prefix + mount);
      }
    }
  };
  walk((app as unknown as { router: { stack: RouterLayer[] } }).router.stack, '');
  return [...out].sort();
}
