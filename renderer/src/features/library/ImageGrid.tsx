import { useInfiniteQuery } from '@tanstack/react-query';
import { useWindowVirtualizer } from '@tanstack/react-virtual';
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'react';
import type { ImagePage } from '../../api/schemas';
import { useSession } from '../../auth/SessionContext';
import { ImageCard } from './ImageCard';
import { imagesKey, type StatusFilter } from './libraryCache';
import { useFastScroll } from './useFastScroll';

const PAGE_SIZE = 200;
const MIN_CARD = 200;
const GAP = 16;
const CAPTION = 56;
/** Room kept around cards inside each row for focus rings and hover shadows (matches .grid-row). */
const ROW_BLEED = 4;

/**
 * The library as a virtualised grid: only the rows near the screen exist in the page, so ten
 * thousand images scroll as smoothly as ten. Pages of the list load (by cursor) as the end
 * comes near.
 */
export function ImageGrid({ filter, onCount }: { filter: StatusFilter; onCount: (loaded: number, more: boolean) => void }) {
  const { api } = useSession();
  const query = useInfiniteQuery({
    queryKey: imagesKey(filter),
    queryFn: ({ pageParam, signal }) => {
      const params = new URLSearchParams({ limit: String(PAGE_SIZE) });
      if (filter !== 'all') params.set('status', filter);
      if (pageParam) params.set('cursor', pageParam);
      return api.get<ImagePage>(`/v1/images?${params}`, signal);
    },
    initialPageParam: null as string | null,
    getNextPageParam: (last) => last.nextCursor,
  });
  const items = useMemo(() => query.data?.pages.flatMap((p) => p.items) ?? [], [query.data]);

  const containerRef = useRef<HTMLDivElement>(null);
  const [width, setWidth] = useState(0);
  const [offsetTop, setOffsetTop] = useState(0);
  useLayoutEffect(() => {
    const el = containerRef.current;
    if (!el) return;
    const measure = () => {
      setWidth(el.clientWidth);
      setOffsetTop(el.getBoundingClientRect().top + window.scrollY);
    };
    measure();
    const observer = new ResizeObserver(measure);
    observer.observe(el);
    observer.observe(document.body);
    return () => observer.disconnect();
  }, []);

  const columns = Math.max(2, Math.floor((width + GAP) / (MIN_CARD + GAP)));
  const cardWidth = width > 0 ? (width - GAP * (columns - 1)) / columns : MIN_CARD;
  const rowHeight = Math.round(cardWidth + CAPTION + GAP);
  const rows = Math.ceil(items.length / columns);

  const [flinging, onScrollOffset] = useFastScroll();
  const virtualizer = useWindowVirtualizer({
    count: rows,
    estimateSize: () => rowHeight,
    overscan: 3,
    scrollMargin: offsetTop,
    // Render in React's own time rather than synchronously inside every scroll event.
    useFlushSync: false,
    onChange: (instance) => onScrollOffset(instance.scrollOffset ?? 0),
  });
  useEffect(() => virtualizer.measure(), [virtualizer, rowHeight]);

  const virtualRows = virtualizer.getVirtualItems();
  const lastRow = virtualRows[virtualRows.length - 1]?.index ?? 0;
  useEffect(() => {
    // After a page failed (and its retries), the next attempt is the user's: "Try again" below.
    if (lastRow >= rows - 3 && query.hasNextPage && !query.isFetchingNextPage && !query.isFetchNextPageError) void query.fetchNextPage();
  }, [lastRow, rows, query]);

  useEffect(() => onCount(items.length, Boolean(query.hasNextPage)), [items.length, query.hasNextPage, onCount]);

  let content;
  if (query.isPending) content = <GridSkeleton />;
  // A page after the first that failed keeps what is shown and says so at the end (below).
  else if (query.isError && items.length === 0) {
    content = (
      <div className="notice notice-error" role="alert">
        The library could not be loaded: {query.error.message}{' '}
        <button type="button" className="link-button" onClick={() => void query.refetch()}>
          Try again
        </button>
      </div>
    );
  } else if (items.length === 0) content = <EmptyLibrary filtered={filter !== 'all'} />;
  else {
    content = (
      <>
        <div className="grid" style={{ height: virtualizer.getTotalSize() }}>
          {virtualRows.map((row) => (
            <div
              key={row.key}
              className="grid-row"
              style={{
                // Rows reach ROW_BLEED px above their cards (see .grid-row), so focus rings and
                // shadows are not clipped by the row's paint containment.
                transform: `translateY(${row.start - virtualizer.options.scrollMargin - ROW_BLEED}px)`,
                height: rowHeight,
                gridTemplateColumns: `repeat(${columns}, minmax(0, 1fr))`,
              }}
            >
              {items.slice(row.index * columns, row.index * columns + columns).map((image) => (
                <ImageCard key={image.id} image={image} deferThumbnail={flinging} />
              ))}
            </div>
          ))}
        </div>
        {/* The error stays set while "Try again" runs: show "Loading more…" meanwhile. */}
        {query.isFetchNextPageError && !query.isFetchingNextPage ? (
          <div className="grid-footer">
            <div className="notice notice-error" role="alert">
              More images could not be loaded: {query.error?.message}{' '}
              <button type="button" className="link-button" onClick={() => void query.fetchNextPage()}>
                Try again
              </button>
            </div>
          </div>
        ) : (
          <p className="grid-footer" aria-live="polite">
            {query.isFetchingNextPage ? 'Loading more…' : query.hasNextPage ? '' : `${items.length.toLocaleString()} image${items.length === 1 ? '' : 's'}`}
          </p>
        )}
      </>
    );
  }
  return (
    <div ref={containerRef} className="grid-wrap">
      {content}
    </div>
  );
}

function GridSkeleton() {
  return (
    <div className="grid-skeleton" aria-busy="true" aria-label="Loading the library">
      {Array.from({ length: 12 }, (_, i) => (
        <div key={i} className="skeleton-card" />
      ))}
    </div>
  );
}

function EmptyLibrary({ filtered }: { filtered: boolean }) {
  return (
    <div className="empty-state">
      <h2>{filtered ? 'No images with this status' : 'Your library is empty'}</h2>
      <p>{filtered ? 'Choose another filter to see more.' : 'Drop images or whole folders anywhere on this page, or choose files above.'}</p>
    </div>
  );
}
