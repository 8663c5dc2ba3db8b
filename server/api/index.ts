/**
 * The API's schemas (zod), one module per resource: what every `/v1` request may carry and
 * what every answer holds (CONTRACT §3). The server validates requests and shapes its answers
 * with them; the UI takes its types from them (type-only imports, so zod stays out of its
 * bundle). This folder imports nothing of the server but itself: anything may import it.
 */
export * from './vocabulary.js';
export * from './enums.js';
export * from './errors.js';
export * from './common.js';
export * from './images.js';
export * from './import.js';
export * from './stats.js';
export * from './keys.js';
export * from './session.js';
export * from './watch.js';
export * from './sync.js';
export * from './nodes.js';
export * from './ops.js';
export * from './events.js';
export * from './webhooks.js';
export * from './presets.js';
export * from './links.js';
export * from './routes.js';
export * from './render.js';
