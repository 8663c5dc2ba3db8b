/**
 * The layering rules of docs/architecture.md ("Layering"), checked by `npm run lint:deps`, which
 * `npm test` runs first. Each rule states a direction the code already keeps; a new import that
 * breaks one fails the check with the rule's name and the offending edge. Paths are relative to
 * the repository root; type-only imports count (a type import still couples two layers).
 */

/** Packages, as the path an import of one resolves to (node_modules/<name>/…). */
const packages = (...names) => `(^|/)node_modules/(${names.join('|')})/`;

/** Node's HTTP modules and the libraries that speak HTTP or the tus protocol: server/http/'s. */
const HTTP_LIBRARIES = ['^(node:)?(http|https|http2)$', packages('express', 'busboy', 'multer', 'helmet', 'pino-http', 'srvx', '@tus/[^/]+')];

/** Client libraries of outside systems: only the modules that wrap them (adapters) import them. */
const OUTSIDE_SYSTEM_CLIENTS = packages('better-sqlite3', 'pg', 'pg-[^/]+', '@aws-sdk/[^/]+', 'sharp', 'piscina', 'chokidar', 'exiftool-vendored');

export default {
  forbidden: [
    {
      name: 'workers-import-no-server',
      comment:
        'Workers are pure: (input, options) → files and numbers. They import nothing of the server, ' +
        'the shell or the UI (no database, no config), so a worker can run anywhere a path can be handed to it. ' +
        'The API schemas (server/api/) are the exception: a variant spec and its caps are the API\'s, and that ' +
        'module depends on nothing of the server.',
      severity: 'error',
      from: { path: '^workers/' },
      to: { path: '^(server|electron|renderer)/', pathNot: '^server/api/' },
    },
    {
      name: 'api-schemas-are-a-leaf',
      comment:
        'server/api/ (the schemas of every request and answer) is shared by the server, the workers and the ' +
        'UI, so it imports nothing but itself and zod: no other part of the server, no Node module.',
      severity: 'error',
      from: { path: '^server/api/' },
      to: { pathNot: ['^server/api/', packages('zod')] },
    },
    {
      name: 'workers-import-no-database',
      comment: 'Workers are pure: a database client in a worker would be a second writer nobody coordinates.',
      severity: 'error',
      from: { path: '^workers/' },
      to: { path: packages('better-sqlite3') },
    },
    {
      name: 'services-import-no-http',
      comment:
        'Use cases do not know their transport: HTTP (routes, middleware, the tus protocol) lives in ' +
        'server/http/ and calls the services, never the other way round.',
      severity: 'error',
      from: { path: '^server/services/' },
      to: { path: ['^server/http/', ...HTTP_LIBRARIES] },
    },
    {
      name: 'services-import-no-outside-system-client',
      comment:
        'Use cases reach the database, the blob store, S3, sharp and the file watchers through the ' +
        'modules that wrap them, never through their client libraries.',
      severity: 'error',
      from: { path: '^server/services/' },
      to: { path: OUTSIDE_SYSTEM_CLIENTS },
    },
    {
      name: 'services-import-no-s3-or-watch-adapter',
      comment:
        'S3 (storage/s3/, sync/) and the folder watchers (watch/) are adapters that call the use ' +
        'cases; a use case importing them would run only where S3 or a watched folder exists.',
      severity: 'error',
      from: { path: '^server/services/' },
      to: { path: '^server/(storage/s3/|sync/|watch/)' },
    },
    {
      name: 'only-the-s3-adapter-imports-the-aws-sdk',
      comment:
        'All S3 code lives in one adapter folder (server/storage/s3/: client, errors, lifecycle, ' +
        'multipart upload, listing). Sync, recovery and an S3 blob store use it; nothing else ' +
        'speaks the SDK, so a change of SDK or of S3 provider quirks is one folder to read. ' +
        '(bench/ is outside on purpose: its baselines are plain SDK programs to compare against.)',
      severity: 'error',
      from: { path: '^(server|workers|electron|renderer)/', pathNot: '^server/storage/s3/' },
      to: { path: packages('@aws-sdk/[^/]+', '@smithy/[^/]+') },
    },
    {
      name: 'use-cases-see-the-blob-store-port-not-its-adapters',
      comment:
        'Use cases, routes and job handlers name blobs by key through the port ' +
        '(storage/blob-store.ts); only the composition root, the CLI and the data-dir recovery ' +
        'scans (which walk the fs layout itself) know the fs adapter.',
      severity: 'error',
      from: { path: '^server/(services|http|jobs|sync|watch)/' },
      to: { path: '^server/storage/fs/' },
    },
    {
      name: 'only-http-speaks-tus',
      comment:
        'tus is a transport: the protocol (@tus/*) lives in server/http/tus/, whose DataStore keeps ' +
        'uploads in progress through the upload-parts port (storage/upload-parts.ts). The storage ' +
        'adapters under it know nothing of tus, so another store of upload parts is an addition.',
      severity: 'error',
      from: { path: '^(server|workers)/', pathNot: '^server/http/' },
      to: { path: packages('@tus/[^/]+') },
    },
    {
      name: 'db-and-storage-import-no-use-case',
      comment:
        'The database and the blob store sit under the use cases: they import no service, no ' +
        'transport and no adapter that drives the use cases (watch/, sync/), nor the composition root.',
      severity: 'error',
      from: { path: '^server/(db|storage)/' },
      to: { path: '^server/(services|http|watch|sync|recovery|desktop)/|^server/(main|cli)\\.ts$' },
    },
    {
      name: 'only-the-sqlite-adapter-imports-better-sqlite3',
      comment:
        'The database is reached through its port (server/db/port.ts, the repositories); only the SQLite ' +
        'adapter speaks to better-sqlite3, so a PostgreSQL adapter is an addition. The data-dir lock ' +
        'uses SQLite as a lock file, not as the database.',
      severity: 'error',
      from: { path: '^(server|bench)/', pathNot: ['^server/db/sqlite/', '^server/storage/data-dir-lock\\.ts$'] },
      to: { path: packages('better-sqlite3') },
    },
    {
      name: 'only-the-postgres-adapter-imports-pg',
      comment:
        'Like better-sqlite3 for SQLite: only the PostgreSQL adapter (server/db/postgres/) speaks to ' +
        'node-postgres, and the composition roots load that adapter only when --database-url is given.',
      severity: 'error',
      from: { path: '^(server|bench)/', pathNot: ['^server/db/postgres/'] },
      to: { path: packages('pg', 'pg-[^/]+') },
    },
    {
      name: 'repositories-are-dialect-neutral',
      comment:
        'A repository states its queries with the query builder (db/sql-executor.ts) and runs them on ' +
        'whichever adapter built it: it imports no adapter and no driver.',
      severity: 'error',
      from: { path: '^server/db/[^/]+\\.repo\\.ts$' },
      to: { path: ['^server/db/(sqlite|postgres)/', packages('better-sqlite3', 'pg')] },
    },
    {
      name: 'only-composition-roots-choose-the-database-adapter',
      comment:
        'Use cases, jobs, routes and adapters of other systems depend on the database port; which ' +
        'adapter runs under it is chosen once, in main.ts or cli.ts.',
      severity: 'error',
      from: { path: '^server/', pathNot: ['^server/db/', '^server/(main|cli)\\.ts$'] },
      to: { path: '^server/db/(sqlite|postgres)/' },
    },
    {
      name: 'only-http-imports-http',
      comment:
        'Below the transport, nothing knows HTTP: the engine must run the same behind the LAN API, ' +
        'the desktop shell and the jobs.',
      severity: 'error',
      from: { path: '^server/(db|storage|services|jobs|watch|media|recovery|util)/' },
      to: { path: '^server/http/' },
    },
    {
      name: 'util-is-a-leaf',
      comment: 'server/util/ holds small pure helpers every layer may use, so it imports no other part of the server.',
      severity: 'error',
      from: { path: '^server/util/' },
      to: { path: '^server/', pathNot: '^server/util/' },
    },
    {
      name: 'server-imports-no-electron',
      comment:
        'The engine runs headless (`serve`, the LAN API) as well as under the desktop shell: it ' +
        'imports nothing of electron/ or the electron package.',
      severity: 'error',
      from: { path: '^(server|workers)/' },
      to: { path: ['^electron/', packages('electron')] },
    },
    {
      name: 'renderer-imports-only-the-server-api',
      comment:
        'The UI talks to the engine only over HTTP; of the server it may import the shared API ' +
        'schemas (server/api/) and nothing else.',
      severity: 'error',
      from: { path: '^renderer/' },
      to: { path: '^(server|workers)/', pathNot: '^server/api/' },
    },
    {
      name: 'renderer-imports-only-the-desktop-bridge',
      comment:
        'Of the shell, the UI knows only the contract of what the preload script exposes ' +
        '(electron/bridge.ts: types and the shared list of image extensions).',
      severity: 'error',
      from: { path: '^renderer/' },
      to: { path: '^electron/', pathNot: '^electron/bridge\\.ts$' },
    },
    {
      name: 'no-circular',
      comment: 'Modules that import each other cannot be understood, tested or moved one at a time.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'not-to-unresolvable',
      comment:
        'Every import must resolve: an import the check cannot follow is an edge no rule sees ' +
        '(and usually a missing dependency).',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    // Type-only imports couple layers too; TypeScript would drop them before the check otherwise.
    tsPreCompilationDeps: true,
    doNotFollow: { path: 'node_modules' },
    moduleSystems: ['es6', 'cjs'],
    // The sources are checked, not what tsc emitted from them.
    exclude: { path: '^(dist|build|test-results)/' },
    // ESM packages that publish only through "exports" (uuid, csv-stringify/sync, srvx/node)
    // resolve the way Node resolves them.
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default'],
      mainFields: ['module', 'main', 'types', 'typings'],
      extensions: ['.ts', '.tsx', '.cts', '.mts', '.js', '.cjs', '.mjs', '.json'],
    },
  },
};
