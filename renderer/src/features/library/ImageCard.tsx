import { memo, useState } from 'react';
import type { ImageRecord } from '../../api/schemas';
import { Link } from '../../app/router';
import { useSession } from '../../auth/SessionContext';
import { cachedAuthedImage, useAuthedImage } from '../../ui/authedImages';
import { formatBytes, formatDimensions } from '../../ui/format';
import { Icon } from '../../ui/Icon';
import { StatusBadge, displayStatus } from '../../ui/StatusBadge';
import { placeholderUrl } from '../../ui/thumbhash';
import { gridVariant } from './thumbnails';

/** One image in the library grid: its thumbnail (placeholder first), status and a short caption. */
export const ImageCard = memo(function ImageCard({ image, deferThumbnail = false }: { image: ImageRecord; deferThumbnail?: boolean }) {
  const { api } = useSession();
  const variant = gridVariant(image);
  // While the grid flings past, only thumbnails already at hand are shown (see useFastScroll).
  const path = variant && (!deferThumbnail || cachedAuthedImage(variant.url)) ? variant.url : undefined;
  const thumb = useAuthedImage(api, path);
  const placeholder = placeholderUrl(image.thumbhash);
  const [loaded, setLoaded] = useState(false);
  const status = displayStatus(image);

  return (
    <Link
      to={`/images/${image.id}`}
      className="card"
      data-testid="image-card"
      data-image-id={image.id}
      data-status={image.status}
    >
      <div className="card-media" style={image.dominantColor ? { backgroundColor: image.dominantColor } : undefined}>
        {placeholder && !loaded && <img className="card-img card-placeholder" src={placeholder} alt="" />}
        {thumb.url && <img className={`card-img card-thumb${loaded ? ' is-loaded' : ''}`} src={thumb.url} alt="" decoding="async" onLoad={() => setLoaded(true)} />}
        {!variant && !placeholder && (
          <span className="card-empty" aria-hidden="true">
            {image.status === 'failed' ? <Icon name="alert" size={28} /> : image.status === 'done' ? <Icon name="clock" size={28} /> : <span className="spinner" />}
          </span>
        )}
        <span className="card-badge">{status === 'done' ? <span className="done-mark" title="Done"><Icon name="check" size={13} /><span className="visually-hidden">Done</span></span> : <StatusBadge status={status} compact />}</span>
      </div>
      <div className="card-caption">
        <span className="card-name" title={image.filename}>
          {image.filename}
        </span>
        <span className="card-meta">
          {image.format.toUpperCase()} · {formatDimensions(image.width, image.height)} · {formatBytes(image.bytes)}
        </span>
      </div>
    </Link>
  );
});
