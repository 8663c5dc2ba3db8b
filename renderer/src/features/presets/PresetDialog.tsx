import { useMutation } from '@tanstack/react-query';
import { useEffect, useState, type FormEvent } from 'react';
import { OUTPUT_FORMATS, POSITIONS, type Fit, type Position, type Preset, type PresetValues, type RenderFormat } from '../../api/schemas';
import { useSession } from '../../auth/SessionContext';
import { Dialog } from '../../ui/Dialog';
import { Field, FormError } from '../../ui/Field';
import { NumberInput } from '../../ui/NumberInput';
import { useToast } from '../../ui/Toasts';
import { FIT_CHOICES, FIT_LABELS, FORMAT_LABELS, POSITION_LABELS } from '../render/renderOptions';

/** What the form holds: each value optional, as in a preset (absent: render's default). */
interface Draft {
  name: string;
  w?: number;
  h?: number;
  fit?: Fit;
  position?: Position;
  format?: RenderFormat;
  q?: number;
}

const EMPTY: Draft = { name: '' };

/** The body of `PUT /v1/presets/{name}`: only what is set, so what is left out keeps render's default. */
function valuesOf(d: Draft): PresetValues {
  const out: PresetValues = {};
  if (d.w !== undefined) out.w = d.w;
  if (d.h !== undefined) out.h = d.h;
  if (d.fit) out.fit = d.fit;
  if (d.position) out.position = d.position;
  if (d.format) out.format = d.format;
  if (d.q !== undefined) out.q = d.q;
  return out;
}

/**
 * Creates a preset, or changes one (`editing`; its name stays: a preset is found by name, and
 * pages already ask for it by that name). The values are judged by the server as render judges
 * them; its message is shown as it is.
 */
export function PresetDialog({ open, editing, existing, onClose, onSaved }: { open: boolean; editing: Preset | null; existing: string[]; onClose: () => void; onSaved: () => void }) {
  const { api } = useSession();
  const toast = useToast();
  const [draft, setDraft] = useState<Draft>(EMPTY);

  useEffect(() => {
    if (!open) return;
    setDraft(editing ? { name: editing.name, w: editing.w, h: editing.h, fit: editing.fit, position: editing.position, format: editing.format, q: editing.q } : EMPTY);
    save.reset();
  }, [open, editing]);

  const save = useMutation({
    mutationFn: () => api.json<Preset>('PUT', `/v1/presets/${encodeURIComponent(draft.name.trim())}`, valuesOf(draft)),
    onSuccess: (preset) => {
      onSaved();
      toast(editing ? `Preset ${preset.name} saved` : `Preset ${preset.name} created`, 'success');
      onClose();
    },
  });

  const set = (patch: Partial<Draft>) => setDraft((d) => ({ ...d, ...patch }));
  // PUT replaces: creating a name that exists would overwrite that preset unasked.
  const taken = !editing && existing.includes(draft.name.trim()) ? `A preset named ${draft.name.trim()} exists: edit it instead.` : undefined;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (!taken) save.mutate();
  };

  return (
    <Dialog
      open={open}
      onClose={onClose}
      title={editing ? `Edit preset ${editing.name}` : 'Create a preset'}
      footer={
        <>
          <button type="button" className="button button-secondary" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" form="preset-form" className="button button-primary" disabled={save.isPending || !draft.name.trim() || Boolean(taken)}>
            {save.isPending ? 'Saving…' : editing ? 'Save' : 'Create preset'}
          </button>
        </>
      }
    >
      <form id="preset-form" className="form" onSubmit={submit} data-testid="preset-form">
        <Field label="Name" hint={<>1–40 lower-case letters, digits or “-”. Pages ask for it as <code>?preset={draft.name.trim() || 'NAME'}</code>.</>}>
          {(id) => (
            <input
              id={id}
              className="input input-mono"
              value={draft.name}
              onChange={(e) => set({ name: e.target.value })}
              placeholder="card"
              autoComplete="off"
              maxLength={40}
              required
              readOnly={editing !== null}
              autoFocus={editing === null}
            />
          )}
        </Field>
        <div className="field-row">
          <Field label="Width" optional>
            {(id) => <NumberInput id={id} value={draft.w} onChange={(w) => set({ w })} placeholder="px" />}
          </Field>
          <Field label="Height" optional>
            {(id) => <NumberInput id={id} value={draft.h} onChange={(h) => set({ h })} placeholder="px" />}
          </Field>
          <Field label="Quality" optional>
            {(id) => <NumberInput id={id} value={draft.q} onChange={(q) => set({ q })} placeholder="1–100" />}
          </Field>
        </div>
        <p className="field-hint">Sizes are 1–8192 pixels; without either, the source's size. Never enlarged past the original. Quality: the format's default when empty.</p>
        <div className="field-row">
          <Field label="Fit">
            {(id) => (
              <select id={id} className="input" value={draft.fit ?? ''} onChange={(e) => set({ fit: (e.target.value || undefined) as Fit | undefined })}>
                <option value="">Default (fit inside)</option>
                {FIT_CHOICES.map((f) => (
                  <option key={f} value={f}>
                    {FIT_LABELS[f]}
                  </option>
                ))}
              </select>
            )}
          </Field>
          <Field label="Position">
            {(id) => (
              <select id={id} className="input" value={draft.position ?? ''} onChange={(e) => set({ position: (e.target.value || undefined) as Position | undefined })}>
                <option value="">Default (centre)</option>
                {POSITIONS.map((p) => (
                  <option key={p} value={p}>
                    {POSITION_LABELS[p]}
                  </option>
                ))}
              </select>
            )}
          </Field>
          <Field label="Format">
            {(id) => (
              // auto and absent are the same to render: both shown as the first choice.
              <select id={id} className="input" value={draft.format === 'auto' ? '' : (draft.format ?? '')} onChange={(e) => set({ format: (e.target.value || undefined) as RenderFormat | undefined })}>
                <option value="">Auto (from the browser)</option>
                {OUTPUT_FORMATS.map((f) => (
                  <option key={f} value={f}>
                    {FORMAT_LABELS[f]}
                  </option>
                ))}
              </select>
            )}
          </Field>
        </div>
        <p className="field-hint">Auto picks AVIF, WebP, PNG or JPEG by what the browser takes. An upload variant made with the preset needs a fixed format. Entropy and attention only crop (fit: crop to fill).</p>
        <FormError message={taken ?? save.error?.message} testId="preset-error" />
      </form>
    </Dialog>
  );
}
