import type { ImageRecord, Variant } from '../../api/schemas';
import { useSession } from '../../auth/SessionContext';
import { downloadWithKey } from '../../ui/download';
import { formatBytes, formatDateTime, formatDimensions, formatName, formatRelative } from '../../ui/format';
import { Icon } from '../../ui/Icon';
import { useToast } from '../../ui/Toasts';

const VARIANT_STATUS: Record<Variant['status'], string> = { pending: 'Pending', done: 'Ready', failed: 'Failed', expired: 'Expired' };

/** Every variant with its size, dimensions and expiry, the original last, each downloadable. */
export function VariantsTable({ image }: { image: ImageRecord }) {
  const { api } = useSession();
  const toast = useToast();
  const download = (path: string, name: string) => void downloadWithKey(api, path, name).catch((e: Error) => toast(`Download failed: ${e.message}`, 'error'));

  return (
    <section className="panel" aria-labelledby="variants-heading">
      <h2 id="variants-heading" className="panel-title">
        <Icon name="layers" size={17} />
        Variants
      </h2>
      <table className="table">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col" className="num">
              Size
            </th>
            <th scope="col">Expires</th>
            <th scope="col">
              <span className="visually-hidden">Download</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {image.variants.map((v) => (
            <tr key={v.name} data-variant={v.name}>
              <th scope="row">
                <span className="variant-name">{v.name}</span>
                <span className="variant-sub">
                  {v.format.toUpperCase()} · {v.status === 'done' ? formatDimensions(v.width, v.height) : VARIANT_STATUS[v.status]}
                </span>
              </th>
              <td className="num">{v.status === 'done' ? formatBytes(v.bytes) : '—'}</td>
              <td>
                {v.expiresAt && v.status !== 'pending' ? (
                  <time dateTime={v.expiresAt} title={formatDateTime(v.expiresAt)} className={v.status === 'expired' ? 'text-warning' : undefined}>
                    {v.status === 'expired' ? 'Expired' : formatRelative(v.expiresAt)}
                  </time>
                ) : (
                  '—'
                )}
              </td>
              <td className="cell-action">
                <button
                  type="button"
                  className="button button-secondary button-sm button-icon"
                  disabled={v.status !== 'done'}
                  onClick={() => download(v.url, `${v.name}.${v.format}`)}
                  aria-label={`Download ${v.name}`}
                  title={`Download ${v.name}`}
                >
                  <Icon name="download" size={16} />
                </button>
              </td>
            </tr>
          ))}
          <tr data-variant="original">
            <th scope="row">
              <span className="variant-name">original</span>
              <span className="variant-sub">
                {formatName(image)} · {formatDimensions(image.width, image.height)}
              </span>
            </th>
            <td className="num">{formatBytes(image.bytes)}</td>
            <td>Never</td>
            <td className="cell-action">
              <button
                type="button"
                className="button button-secondary button-sm button-icon"
                onClick={() => download(`/v1/image/${image.id}/download?variant=original`, image.filename)}
                aria-label="Download original"
                title="Download original"
              >
                <Icon name="download" size={16} />
              </button>
            </td>
          </tr>
        </tbody>
      </table>
    </section>
  );
}
