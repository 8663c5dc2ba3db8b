import type { InfiniteData, QueryClient } from '@tanstack/react-query';
import type { ApiClient } from '../../api/client';
import type { ImageStatusEvent } from '../../api/events';
import type { ImagePage, ImageRecord, ImageStatus } from '../../api/schemas';

/** Library lists are cached per status filter: ['images', filter]. */
export type StatusFilter = ImageStatus | 'all';
export const imagesKey = (filter: StatusFilter) => ['images', filter] as const;
export const imageKey = (id: string) => ['image', id] as const;

type Pages = InfiniteData<ImagePage, string | null>;

function eachList(queryClient: QueryClient, fn: (filter: StatusFilter, data: Pages) => Pages | undefined) {
  for (const [key, data] of queryClient.getQueriesData<Pages>({ queryKey: ['images'] })) {
    if (!data) continue;
    const next = fn(key[1] as StatusFilter, data);
    if (next && next !== data) queryClient.setQueryData(key, next);
  }
}

function findCached(queryClient: QueryClient, id: string): ImageRecord | undefined {
  const detail = queryClient.getQueryData<ImageRecord>(imageKey(id));
  if (detail) return detail;
  for (const [, data] of queryClient.getQueriesData<Pages>({ queryKey: ['images'] })) {
    for (const page of data?.pages ?? []) {
      const found = page.items.find((i) => i.id === id);
      if (found) return found;
    }
  }
  return undefined;
}

/** Puts a record everywhere it is shown: replaced where it is, added on top where it belongs. */
export function upsertImage(queryClient: QueryClient, record: ImageRecord) {
  queryClient.setQueryData(imageKey(record.id), record);
  eachList(queryClient, (filter, data) => {
    let found = false;
    const pages = data.pages.map((page) => {
      const index = page.items.findIndex((i) => i.id === record.id);
      if (index < 0) return page;
      found = true;
      const items = page.items.slice();
      items[index] = record;
      return { ...page, items };
    });
    if (found) return { ...data, pages };
    if ((filter !== 'all' && filter !== record.status) || data.pages.length === 0) return undefined;
    const [first, ...rest] = data.pages;
    return { ...data, pages: [{ ...first!, items: [record, ...first!.items] }, ...rest] };
  });
}

export function removeImage(queryClient: QueryClient, id: string) {
  queryClient.removeQueries({ queryKey: imageKey(id) });
  eachList(queryClient, (_filter, data) => ({
    ...data,
    pages: data.pages.map((page) => ({ ...page, items: page.items.filter((i) => i.id !== id) })),
  }));
}

/** The newest fetch of each record: an older answer arriving late must not overwrite it. */
const newestFetch = new Map<string, number>();
let fetchCounter = 0;

/** A new image (just uploaded here or elsewhere) or one that changed: fetch its record and show it. */
export async function imageArrived(queryClient: QueryClient, api: ApiClient, id: string) {
  const seq = ++fetchCounter;
  newestFetch.set(id, seq);
  try {
    const record = await api.get<ImageRecord>(`/v1/image/${id}`);
    if (newestFetch.get(id) === seq) upsertImage(queryClient, record);
  } catch {
    // Gone already (deleted) or not ours: nothing to show.
  } finally {
    if (newestFetch.get(id) === seq) newestFetch.delete(id);
  }
}

/**
 * A live status change: the badge changes at once; when processing has finished, the record
 * is fetched again for its variants and placeholder.
 */
export function applyStatusEvent(queryClient: QueryClient, api: ApiClient, event: ImageStatusEvent) {
  const cached = findCached(queryClient, event.id);
  if (!cached) return void imageArrived(queryClient, api, event.id);
  if (cached.status !== event.status) upsertImage(queryClient, { ...cached, status: event.status });
  if (event.status === 'done' || event.status === 'failed') void imageArrived(queryClient, api, event.id);
}
