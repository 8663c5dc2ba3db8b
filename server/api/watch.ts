import { z } from 'zod';
import { Timestamp } from './common.js';

/** `POST /v1/watch` */
export const NewWatchFolderRequest = z.strictObject({
  path: z.string().min(1, 'path: give the folder to watch').max(4096).meta({ description: 'An absolute folder on the server\'s machine' }),
  poll: z.boolean().default(false).meta({ description: 'Poll instead of file-system events (network shares)' }),
});
export type NewWatchFolderRequest = z.infer<typeof NewWatchFolderRequest>;

/** A watch folder with its counts (CONTRACT §6). */
export const WatchFolder = z
  .strictObject({
    id: z.string(),
    path: z.string(),
    source: z.enum(['flag', 'settings']).meta({ description: 'flag: from --watch (not removable here); settings: added through the API or the app' }),
    poll: z.boolean(),
    mode: z.enum(['events', 'polling']),
    pollingReason: z.string().nullable().meta({ description: 'Why it is polled though events were asked for (a network filesystem)' }),
    state: z.enum(['starting', 'watching', 'unavailable', 'stopped']),
    error: z.string().nullable(),
    counts: z.strictObject({
      ingested: z.number().int().min(0),
      rejected: z.number().int().min(0),
      pending: z.number().int().min(0).meta({ description: 'Files seen and waiting to be ingested' }),
    }),
    lastIngestedAt: Timestamp.nullable(),
  })
  .meta({ id: 'WatchFolder' });
export type WatchFolder = z.infer<typeof WatchFolder>;

/** `GET /v1/watch` */
export const WatchFolderList = z.strictObject({ items: z.array(WatchFolder) });
export type WatchFolderList = z.infer<typeof WatchFolderList>;
