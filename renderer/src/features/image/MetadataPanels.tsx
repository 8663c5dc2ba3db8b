import type { ReactNode } from 'react';
import type { ImageMetadata, ImageRecord } from '../../api/schemas';
import { copyText } from '../../ui/download';
import {
  formatBytes,
  formatColourSpace,
  formatCoordinates,
  formatDepth,
  formatDateTime,
  formatDimensions,
  formatExposure,
  formatMegapixels,
  formatName,
} from '../../ui/format';
import { Icon, type IconName } from '../../ui/Icon';
import { placeholderUrl } from '../../ui/thumbhash';
import { useToast } from '../../ui/Toasts';

/** What the image says about itself: file, camera, place and colour. */
export function MetadataPanels({ image, metadata, loading }: { image: ImageRecord; metadata: ImageMetadata | undefined; loading: boolean }) {
  const toast = useToast();
  const exif = metadata?.exif ?? null;
  const gps = metadata?.gps ?? null;
  // "Canon" + "Canon EOS R5" reads "Canon EOS R5"; "NIKON CORPORATION" + "Z 6" reads both.
  const camera = exif?.model
    ? exif.make && !exif.model.toLowerCase().startsWith(exif.make.split(' ')[0]!.toLowerCase())
      ? `${exif.make} ${exif.model}`
      : exif.model
    : (exif?.make ?? '');
  const exposure = [
    formatExposure(exif?.exposureTime),
    exif?.fNumber ? `f/${Number(exif.fNumber.toFixed(1))}` : undefined,
    exif?.iso ? `ISO ${exif.iso}` : undefined,
    exif?.focalLength ? `${Number(exif.focalLength.toFixed(1))} mm` : undefined,
  ]
    .filter(Boolean)
    .join(' · ');
  const dominant = metadata?.dominantColor ?? image.dominantColor ?? null;
  const thumbhash = placeholderUrl(metadata?.thumbhash ?? image.thumbhash);
  const profile = metadata?.iccDescription || (metadata?.space ? formatColourSpace(metadata.space) : null);

  return (
    <>
      <Panel title="Details" icon="info">
        <dl className="facts">
        <Row label="Format">
          {formatName(image)}
          {metadata?.mimeType ? <span className="dim"> · {metadata.mimeType}</span> : null}
        </Row>
        <Row label="Dimensions">
          {formatDimensions(image.width, image.height)} <span className="dim">· {formatMegapixels(image.width, image.height)}</span>
        </Row>
        {image.preview && (
          <Row label="Made from">
            its embedded preview <span className="dim">· {formatDimensions(image.preview.width, image.preview.height)}</span>
          </Row>
        )}
        <Row label="File size">{formatBytes(image.bytes)}</Row>
        {(image.pages ?? 1) > 1 && <Row label="Frames">{image.pages}</Row>}
        <Row label="Uploaded">{formatDateTime(image.createdAt)}</Row>
        <Row label="Processed">{formatDateTime(image.processedAt)}</Row>
        <Row label="SHA-256">
          <button
            type="button"
            className="hash-button"
            onClick={() => void copyText(image.sha256).then((ok) => toast(ok ? 'SHA-256 copied' : 'Could not copy', ok ? 'success' : 'error'))}
            title={image.sha256}
          >
            <span className="mono">{image.sha256.slice(0, 16)}…</span>
            <span className="visually-hidden"> (copy the full checksum)</span>
            <Icon name="copy" size={14} />
          </button>
        </Row>
        </dl>
      </Panel>

      <Panel title="Camera" icon="camera">
        {loading ? (
          <PanelLoading />
        ) : exif && (camera || exposure || exif.lensModel || exif.dateTimeOriginal) ? (
          <dl className="facts">
            {camera && <Row label="Camera">{camera}</Row>}
            {exif.lensModel && <Row label="Lens">{exif.lensModel}</Row>}
            {exposure && <Row label="Exposure">{exposure}</Row>}
            {exif.dateTimeOriginal && <Row label="Taken">{formatDateTime(exif.dateTimeOriginal)}</Row>}
          </dl>
        ) : (
          <p className="panel-empty">No camera information in this file.</p>
        )}
      </Panel>

      <Panel title="Location" icon="pin">
        {loading ? (
          <PanelLoading />
        ) : gps ? (
          <>
            <dl className="facts">
            <Row label="Coordinates">
              <span className="mono">{formatCoordinates(gps.latitude, gps.longitude)}</span>
            </Row>
            {typeof gps.altitude === 'number' && <Row label="Altitude">{Math.round(gps.altitude)} m</Row>}
            <Row label="Map">
              <a
                className="external-link"
                href={`https://www.openstreetmap.org/?mlat=${gps.latitude}&mlon=${gps.longitude}#map=15/${gps.latitude}/${gps.longitude}`}
                target="_blank"
                rel="noopener noreferrer"
              >
                Open in OpenStreetMap <Icon name="external" size={14} />
              </a>
            </Row>
            </dl>
            <p className="panel-note">Only the original keeps the position; processed variants never carry it.</p>
          </>
        ) : (
          <p className="panel-empty">No GPS position in this file.</p>
        )}
      </Panel>

      <Panel title="Colour" icon="palette">
        {loading ? (
          <PanelLoading />
        ) : (
          <dl className="facts">
            <Row label="Profile">{profile ?? '—'}</Row>
            {metadata && (
              <Row label="Channels">
                {metadata.channels ?? '—'}
                {metadata.depth ? <span className="dim"> · {formatDepth(metadata.depth)}</span> : null}
                {metadata.hasAlpha ? <span className="dim"> · alpha</span> : null}
              </Row>
            )}
            {metadata?.density ? <Row label="Density">{metadata.density} dpi</Row> : null}
            <Row label="Dominant">
              {dominant ? (
                <span className="swatch-line">
                  <span className="swatch" style={{ backgroundColor: dominant }} aria-hidden="true" />
                  <span className="mono">{dominant}</span>
                </span>
              ) : (
                '—'
              )}
            </Row>
            <Row label="Placeholder">
              {thumbhash ? <img className="thumbhash-sample" src={thumbhash} alt="The blurred placeholder shown while the image loads" /> : '—'}
            </Row>
          </dl>
        )}
      </Panel>
    </>
  );
}

function Panel({ title, icon, children }: { title: string; icon: IconName; children: ReactNode }) {
  return (
    <section className="panel" aria-label={title}>
      <h2 className="panel-title">
        <Icon name={icon} size={17} />
        {title}
      </h2>
      {children}
    </section>
  );
}

function Row({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div className="fact">
      <dt>{label}</dt>
      <dd>{children}</dd>
    </div>
  );
}

function PanelLoading() {
  return <p className="panel-empty">Reading…</p>;
}
