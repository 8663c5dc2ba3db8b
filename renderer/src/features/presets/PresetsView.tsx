import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import type { Preset } from '../../api/schemas';
import { useSession } from '../../auth/SessionContext';
import { ConfirmDialog } from '../../ui/ConfirmDialog';
import { formatDateTime, formatRelative } from '../../ui/format';
import { Icon } from '../../ui/Icon';
import { PageHeader } from '../../ui/PageHeader';
import { TablePanel } from '../../ui/TablePanel';
import { useToast } from '../../ui/Toasts';
import { FIT_LABELS, FORMAT_LABELS, POSITION_LABELS } from '../render/renderOptions';
import { PresetDialog } from './PresetDialog';
import { presetSize } from './presetText';
import { PRESETS_KEY, usePresets } from './usePresets';

const COLUMNS = [
  { label: 'Name' },
  { label: 'Size' },
  { label: 'Fit' },
  { label: 'Position' },
  { label: 'Format' },
  { label: 'Quality', className: 'num' },
  { label: 'Changed' },
  { label: 'Actions', hidden: true },
];

/**
 * Render presets (admin): named render parameters that pages ask for as `?preset=NAME`, uploads
 * as a variant and share links start from. List, create, edit, delete.
 */
export function PresetsView() {
  const { api } = useSession();
  const queryClient = useQueryClient();
  const toast = useToast();
  const [dialog, setDialog] = useState<{ editing: Preset | null } | null>(null);
  const [deleting, setDeleting] = useState<Preset | null>(null);
  const presets = usePresets();
  const refresh = () => void queryClient.invalidateQueries({ queryKey: PRESETS_KEY });

  const remove = useMutation({
    mutationFn: (preset: Preset) => api.json<void>('DELETE', `/v1/presets/${encodeURIComponent(preset.name)}`),
    onSuccess: (_data, preset) => {
      setDeleting(null);
      refresh();
      toast(`Preset ${preset.name} deleted`, 'success');
    },
    onError: (err) => toast(`Could not delete: ${err.message}`, 'error'),
  });

  const items = presets.data?.items ?? [];
  const dash = <span className="dim">—</span>;

  return (
    <div className="page">
      <PageHeader
        title="Presets"
        subtitle={
          // One span: the subtitle lays out its children side by side (a badge beside a line).
          <span>
            Named render parameters: a page asks for <code>?preset=NAME</code>, an upload for a variant made with one, and share links start from them. One list for the whole installation.
          </span>
        }
        actions={
          <button type="button" className="button button-primary" onClick={() => setDialog({ editing: null })}>
            <Icon name="plus" size={17} />
            Create preset
          </button>
        }
      />

      <TablePanel label="Presets" what="presets" loading={presets.isPending} error={presets.error} count={items.length} empty="No presets yet." columns={COLUMNS}>
        {items.map((p) => (
          <tr key={p.name} data-testid="preset-row" data-preset-name={p.name}>
            <th scope="row">
              <span className="mono">{p.name}</span>
            </th>
            <td>{presetSize(p)}</td>
            <td>{p.fit ? FIT_LABELS[p.fit] : dash}</td>
            <td>{p.position ? POSITION_LABELS[p.position] : dash}</td>
            <td>{p.format ? FORMAT_LABELS[p.format] : dash}</td>
            <td className="num">{p.q ?? dash}</td>
            <td>
              <time dateTime={p.updatedAt} title={formatDateTime(p.updatedAt)}>
                {formatRelative(p.updatedAt)}
              </time>
            </td>
            <td className="cell-action">
              <button type="button" className="button button-secondary button-sm" onClick={() => setDialog({ editing: p })} aria-label={`Edit ${p.name}`}>
                Edit
              </button>{' '}
              <button type="button" className="button button-ghost-danger button-sm" onClick={() => setDeleting(p)} aria-label={`Delete ${p.name}`}>
                Delete
              </button>
            </td>
          </tr>
        ))}
      </TablePanel>

      <PresetDialog open={dialog !== null} editing={dialog?.editing ?? null} existing={items.map((p) => p.name)} onClose={() => setDialog(null)} onSaved={refresh} />

      <ConfirmDialog
        open={deleting !== null}
        onClose={() => setDeleting(null)}
        onConfirm={() => deleting && remove.mutate(deleting)}
        title="Delete this preset?"
        description={
          deleting && (
            <>
              Renders that ask for <strong className="mono">?preset={deleting.name}</strong> are refused from now on. Upload variants and share links made with it keep their parameters.
            </>
          )
        }
        confirmLabel="Delete preset"
        pendingLabel="Deleting…"
        pending={remove.isPending}
      />
    </div>
  );
}
