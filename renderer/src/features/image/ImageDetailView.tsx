import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { ApiError } from '../../api/client';
import type { ImageMetadata, ImageRecord } from '../../api/schemas';
import { Link, navigate } from '../../app/router';
import { useSession } from '../../auth/SessionContext';
import { useAuthedImage } from '../../ui/authedImages';
import { ConfirmDialog } from '../../ui/ConfirmDialog';
import { downloadWithKey } from '../../ui/download';
import { formatBytes, formatDateTime, formatDimensions, formatName } from '../../ui/format';
import { Icon } from '../../ui/Icon';
import { StatusBadge, displayStatus } from '../../ui/StatusBadge';
import { placeholderUrl } from '../../ui/thumbhash';
import { useToast } from '../../ui/Toasts';
import { imageKey, removeImage, upsertImage } from '../library/libraryCache';
import { previewVariant } from '../library/thumbnails';
import { MetadataPanels } from './MetadataPanels';
import { SharePanel } from '../share/SharePanel';
import { VariantsTable } from './VariantsTable';

export function ImageDetailView({ id }: { id: string }) {
  const { api } = useSession();
  const queryClient = useQueryClient();
  const toast = useToast();
  const [confirmDelete, setConfirmDelete] = useState(false);

  const image = useQuery({ queryKey: imageKey(id), queryFn: ({ signal }) => api.get<ImageRecord>(`/v1/image/${id}`, signal) });
  const record = image.data;
  const metadata = useQuery({
    queryKey: ['metadata', id, record?.status],
    queryFn: ({ signal }) => api.get<ImageMetadata>(`/v1/image/${id}/metadata`, signal),
    enabled: Boolean(record),
  });

  const reprocess = useMutation({
    mutationFn: () => api.json<ImageRecord>('POST', `/v1/image/${id}/reprocess`),
    onSuccess: (updated) => {
      upsertImage(queryClient, updated);
      toast('Reprocessing: the variants are being made again.', 'success');
    },
    onError: (err) => toast(`Could not reprocess: ${err.message}`, 'error'),
  });
  const remove = useMutation({
    mutationFn: () => api.json<void>('DELETE', `/v1/image/${id}`),
    onSuccess: () => {
      setConfirmDelete(false);
      navigate('/');
      removeImage(queryClient, id);
      toast(`${record?.filename ?? 'The image'} was deleted.`, 'success');
    },
    onError: (err) => toast(`Could not delete: ${err.message}`, 'error'),
  });

  if (image.isPending) return <div className="page-loading" aria-busy="true" aria-label="Loading the image" />;
  if (image.isError || !record) {
    const missing = image.error instanceof ApiError && image.error.status === 404;
    return (
      <div className="page">
        <BackLink />
        <div className="empty-state page-message">
          <h1>{missing ? 'Image not found' : 'The image could not be loaded'}</h1>
          <p>{missing ? 'It may have been deleted.' : image.error?.message}</p>
        </div>
      </div>
    );
  }

  const status = displayStatus(record);
  return (
    <div className="page page-detail">
      <BackLink />
      <div className="detail-header">
        <div className="detail-title">
          <h1 title={record.filename}>{record.filename}</h1>
          <p className="page-subtitle">
            <StatusBadge status={status} />
            <span>
              {formatName(record)} · {formatDimensions(record.width, record.height)} · {formatBytes(record.bytes)} · uploaded {formatDateTime(record.createdAt)}
            </span>
          </p>
        </div>
        <div className="page-actions">
          <button type="button" className="button button-secondary" onClick={() => void downloadWithKey(api, `/v1/image/${id}/download?variant=original`, record.filename).catch((e: Error) => toast(e.message, 'error'))}>
            <Icon name="download" size={17} />
            Original
          </button>
          <button type="button" className="button button-secondary" onClick={() => reprocess.mutate()} disabled={reprocess.isPending || record.status === 'queued' || record.status === 'processing'}>
            <Icon name="retry" size={17} />
            Reprocess
          </button>
          <button type="button" className="button button-danger" onClick={() => setConfirmDelete(true)}>
            <Icon name="trash" size={17} />
            Delete
          </button>
        </div>
      </div>

      {record.error && (
        <div className="notice notice-error" role="alert">
          <Icon name="alert" size={18} />
          <span>
            <strong>Processing failed ({record.error.code}).</strong> {record.error.message}
          </span>
        </div>
      )}
      {status === 'expired' && (
        <div className="notice notice-warning">
          <Icon name="clock" size={18} />
          <span>The processed files have expired and were removed. Reprocess to make them again from the original.</span>
        </div>
      )}

      <div className="detail-layout">
        <Preview image={record} />
        <div className="detail-side">
          <VariantsTable image={record} />
          <SharePanel image={record} />
          <MetadataPanels image={record} metadata={metadata.data} loading={metadata.isPending} />
        </div>
      </div>

      <ConfirmDialog
        open={confirmDelete}
        onClose={() => setConfirmDelete(false)}
        onConfirm={() => remove.mutate()}
        title="Delete this image?"
        description={
          <>
            <strong>{record.filename}</strong>, its original and every variant are removed for good.
          </>
        }
        confirmLabel="Delete image"
        pendingLabel="Deleting…"
        pending={remove.isPending}
      />
    </div>
  );
}

function BackLink() {
  return (
    <Link to="/" className="back-link">
      <Icon name="chevronLeft" size={17} />
      Library
    </Link>
  );
}

function Preview({ image }: { image: ImageRecord }) {
  const { api } = useSession();
  const variant = previewVariant(image);
  const preview = useAuthedImage(api, variant?.url);
  const placeholder = placeholderUrl(image.thumbhash);
  const [loaded, setLoaded] = useState(false);
  const ratio = image.width && image.height ? `${image.width} / ${image.height}` : '4 / 3';

  return (
    <figure className="preview">
      <div className="preview-frame" style={{ aspectRatio: ratio, backgroundColor: image.dominantColor ?? undefined }}>
        {placeholder && !loaded && <img className="preview-img preview-placeholder" src={placeholder} alt="" />}
        {preview.url && <img className={`preview-img${loaded ? ' is-loaded' : ''}`} src={preview.url} alt={`Preview of ${image.filename}`} onLoad={() => setLoaded(true)} />}
        {!variant && (
          <div className="preview-status">
            {image.status === 'failed' ? <Icon name="alert" size={32} /> : image.status === 'done' ? <Icon name="clock" size={32} /> : <span className="spinner spinner-lg" />}
            <span>{image.status === 'failed' ? 'No preview: processing failed' : image.status === 'done' ? 'The preview has expired' : 'Processing…'}</span>
          </div>
        )}
      </div>
      {variant && (
        <figcaption>
          Showing <strong>{variant.name}</strong> · {formatDimensions(variant.width, variant.height)} · {variant.format.toUpperCase()}
        </figcaption>
      )}
    </figure>
  );
}
