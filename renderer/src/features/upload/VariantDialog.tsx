import { useEffect, useState } from 'react';
import { OUTPUT_FORMATS, type Fit, type OutputFormat, type VariantSpecInput } from '../../api/schemas';
import { Dialog } from '../../ui/Dialog';
import { Icon } from '../../ui/Icon';
import { NumberInput } from '../../ui/NumberInput';
import { FIT_CHOICES, FIT_LABELS } from '../render/renderOptions';
import { useSession } from '../../auth/SessionContext';
import { useUploads } from './UploadContext';
import { DEFAULT_CUSTOM, PRESETS, variantProblem, type VariantChoice } from './variantPresets';


/** Chooses the variants made for the next uploads: a preset, or a list of one's own. */
export function VariantDialog({ open, onClose }: { open: boolean; onClose: () => void }) {
  const { choice, setChoice } = useUploads();
  const caps = useSession().me.limits.output;
  const [draft, setDraft] = useState<VariantChoice>(choice);

  useEffect(() => {
    if (open) setDraft({ ...choice, custom: choice.custom.length ? choice.custom : DEFAULT_CUSTOM });
  }, [open, choice]);

  const problems = draft.presetId === 'custom' ? draft.custom.map((v) => variantProblem(v, draft.custom, caps)) : [];
  const valid = problems.every((p) => !p) && (draft.presetId !== 'custom' || draft.custom.length > 0);

  const updateVariant = (index: number, patch: Partial<VariantSpecInput>) =>
    setDraft((d) => ({ ...d, custom: d.custom.map((v, i) => (i === index ? clean({ ...v, ...patch }) : v)) }));

  return (
    <Dialog
      open={open}
      onClose={onClose}
      size="lg"
      title="Variants for new uploads"
      description="Darkroom makes these from every image you upload next. Every variant is auto-oriented, converted to sRGB and stripped of metadata."
      footer={
        <>
          <button type="button" className="button button-secondary" onClick={onClose}>
            Cancel
          </button>
          <button
            type="button"
            className="button button-primary"
            disabled={!valid}
            onClick={() => {
              setChoice(draft);
              onClose();
            }}
          >
            Use these variants
          </button>
        </>
      }
    >
      <fieldset className="preset-list">
        <legend className="visually-hidden">Preset</legend>
        {[...PRESETS, { id: 'custom', label: 'Custom', description: 'Your own sizes, formats and quality.', variants: null }].map((preset) => (
          <label key={preset.id} className={`preset${draft.presetId === preset.id ? ' is-selected' : ''}`}>
            <input type="radio" name="preset" value={preset.id} checked={draft.presetId === preset.id} onChange={() => setDraft((d) => ({ ...d, presetId: preset.id }))} />
            <span className="preset-text">
              <span className="preset-label">{preset.label}</span>
              <span className="preset-description">{preset.description}</span>
            </span>
          </label>
        ))}
      </fieldset>

      {draft.presetId === 'custom' && (
        <div className="variant-editor">
          <table className="table table-compact">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Width</th>
                <th scope="col">Height</th>
                <th scope="col">Fit</th>
                <th scope="col">Format</th>
                <th scope="col">Quality</th>
                <th scope="col">
                  <span className="visually-hidden">Remove</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {draft.custom.map((v, i) => (
                <tr key={i} aria-invalid={problems[i] ? true : undefined}>
                  <td>
                    <input className="input input-sm" aria-label={`Variant ${i + 1} name`} value={v.name} onChange={(e) => updateVariant(i, { name: e.target.value.trim() })} />
                    {problems[i] && <span className="cell-error">{problems[i]}</span>}
                  </td>
                  <td>
                    <NumberInput small aria-label={`Variant ${i + 1} width in pixels`} value={v.width} onChange={(width) => updateVariant(i, { width })} />
                  </td>
                  <td>
                    <NumberInput small aria-label={`Variant ${i + 1} height in pixels`} value={v.height} onChange={(height) => updateVariant(i, { height })} />
                  </td>
                  <td>
                    <select className="input input-sm" aria-label={`Variant ${i + 1} fit`} value={v.fit ?? 'inside'} onChange={(e) => updateVariant(i, { fit: e.target.value as Fit })}>
                      {FIT_CHOICES.map((f) => (
                        <option key={f} value={f}>
                          {FIT_LABELS[f]}
                        </option>
                      ))}
                    </select>
                  </td>
                  <td>
                    <select className="input input-sm" aria-label={`Variant ${i + 1} format`} value={v.format ?? 'webp'} onChange={(e) => updateVariant(i, { format: e.target.value as OutputFormat })}>
                      {OUTPUT_FORMATS.map((f) => (
                        <option key={f} value={f}>
                          {f.toUpperCase()}
                        </option>
                      ))}
                    </select>
                  </td>
                  <td>
                    <NumberInput small aria-label={`Variant ${i + 1} quality, 1 to 100`} value={v.quality} placeholder="auto" onChange={(quality) => updateVariant(i, { quality })} />
                  </td>
                  <td>
                    <button
                      type="button"
                      className="icon-button"
                      aria-label={`Remove variant ${v.name || i + 1}`}
                      disabled={draft.custom.length <= 1}
                      onClick={() => setDraft((d) => ({ ...d, custom: d.custom.filter((_, j) => j !== i) }))}
                    >
                      <Icon name="trash" size={16} />
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <button
            type="button"
            className="button button-secondary button-sm"
            disabled={draft.custom.length >= caps.maxVariants}
            onClick={() => setDraft((d) => ({ ...d, custom: [...d.custom, { name: `v${d.custom.length + 1}`, width: 1200, fit: 'inside', format: 'webp' }] }))}
          >
            <Icon name="plus" size={16} />
            Add variant
          </button>
        </div>
      )}
    </Dialog>
  );
}

/** Leaves out what is not set, so the server applies its own defaults. */
function clean(v: VariantSpecInput): VariantSpecInput {
  const out: VariantSpecInput = { name: v.name };
  if (v.width) out.width = v.width;
  if (v.height) out.height = v.height;
  if (v.fit) out.fit = v.fit;
  if (v.format) out.format = v.format;
  if (v.quality) out.quality = v.quality;
  return out;
}
