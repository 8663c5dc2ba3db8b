/**
 * What SQLite's own check finds in a damaged database file (DatabasePort.checkIntegrity on the
 * SQLite adapter): what `darkroom verify` reports as a corrupt database.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteDatabase, type SqliteDatabase } from '../../../server/db/sqlite/sqlite-database.js';
import { insertRowsSync } from '../../helpers/database.js';
import { imageRow } from '../../helpers/image-rows.js';
import { tempDirs } from '../../helpers/server.js';

const dir = tempDirs('darkroom-integrity-');
const opened: SqliteDatabase[] = [];
afterEach(() => {
  for (const db of opened.splice(0)) db.close();
});

const image = (n: number) => imageRow(n, { bytes: n, sha256: n.toString(16).padStart(64, '0'), created_at: n });

describe('SQLite’s integrity check through the port', () => {
  it('reports the damage of a database file whose pages were overwritten, and none before', async () => {
    const file = path.join(dir(), 'darkroom.db');
    const db = openSqliteDatabase(file);
    insertRowsSync(db.connection, 'images', Array.from({ length: 2_000 }, (_, i) => image(i + 1)));
    expect(await db.checkIntegrity()).toEqual([]);
    db.close();

    // The last pages hold the images' rows and indexes (written last); garbage over one of them
    // is what a torn write or a failing disk leaves.
    const probe = new Database(file, { readonly: true });
    const size = probe.pragma('page_size', { simple: true }) as number;
    const count = probe.pragma('page_count', { simple: true }) as number;
    probe.close();
    const handle = fs.openSync(file, 'r+');
    fs.writeSync(handle, Buffer.alloc(size, 0x5a), 0, size, (count - 3) * size);
    fs.closeSync(handle);

    const damaged = openSqliteDatabase(file);
    opened.push(damaged);
    // Found by the check, or stopping it: either way it is the check's answer, not its failure.
    const problems = await damaged.checkIntegrity();
    expect(problems).not.toEqual([]);
    expect(problems[0]).toMatch(/malformed|corrupt|invalid|page/i);
  });
});
