import { useMutation } from '@tanstack/react-query';
import { useId, useState, type FormEvent } from 'react';
import { ApiError } from '../../api/client';
import { OUTPUT_FORMATS, type ImageRecord, type RenderFormat, type SignedLink } from '../../api/schemas';
import { Link } from '../../app/router';
import { useSession } from '../../auth/SessionContext';
import { CopyableValue } from '../../ui/CopyableValue';
import { Field, FormError } from '../../ui/Field';
import { formatBytes, formatDateTime } from '../../ui/format';
import { Icon } from '../../ui/Icon';
import { NumberInput } from '../../ui/NumberInput';
import { Segmented } from '../../ui/Segmented';
import { presetSummary } from '../presets/presetText';
import { usePresets } from '../presets/usePresets';
import { FIT_CHOICES, FIT_LABELS, FORMAT_LABELS, formatOfType } from '../render/renderOptions';
import { DEFAULT_CHOICE, imgSnippet, isComplete, LIFETIMES, linkRequest, renderPath, type ShareChoice } from './shareChoice';
import { useRenderPreview } from './useRenderPreview';

/** The links made for one choice: 1×, and 2× unless render refused it (a 2× over the output caps). */
interface CreatedShare {
  /** The choice they were made for: shown only while the panel still shows that choice. */
  made: string;
  one: SignedLink;
  two?: SignedLink;
  twoRefused?: string;
}

const SOURCES = [
  { value: 'size', label: 'Size' },
  { value: 'preset', label: 'Preset' },
] as const;

/** `undefined` as a segmented value: the preset's own format. */
const PRESET_FORMAT = 'preset';

/** Names a choice by the link it asks for: equal choices, equal links. */
const choiceKey = (c: ShareChoice) => JSON.stringify(linkRequest(c));

/**
 * "Share link": a signed link to a render of this image that any page may embed without a key
 * (CONTRACT §10). Choose a size or a preset, a format and a lifetime; the preview is that render,
 * fetched with the session's key; the links (1× and 2×) are made by the API and copied from here,
 * as a URL or as an `<img srcset>` for a page.
 */
export function SharePanel({ image }: { image: ImageRecord }) {
  // Closed until asked for: an open panel renders a preview, which the image view should not
  // cost every time it is opened.
  const [open, setOpen] = useState(false);
  const formId = useId();
  return (
    <section className="panel share-panel" aria-labelledby="share-heading" data-testid="share-panel">
      <div className="panel-head">
        <h2 id="share-heading" className="panel-title">
          <Icon name="link" size={17} />
          Share link
        </h2>
        <button type="button" className="button button-secondary button-sm" aria-expanded={open} aria-controls={open ? formId : undefined} onClick={() => setOpen((o) => !o)}>
          {open ? 'Close' : 'Make a link'}
        </button>
      </div>
      <p className="panel-note">A link to this image that any page can embed, without a key, until it expires.</p>
      {open && <ShareForm id={formId} image={image} />}
    </section>
  );
}

/** The panel's choices, preview and links: mounted only while the panel is open. */
function ShareForm({ id, image }: { id: string; image: ImageRecord }) {
  const session = useSession();
  const { api } = session;
  const presets = usePresets();
  const [choice, setChoice] = useState<ShareChoice>(DEFAULT_CHOICE);
  const [natural, setNatural] = useState<{ path: string; width: number; height: number } | null>(null);
  const set = (patch: Partial<ShareChoice>) => setChoice((c) => ({ ...c, ...patch }));

  const previewPath = isComplete(choice) ? renderPath(image.id, choice) : undefined;
  const preview = useRenderPreview(api, previewPath);
  const made = choiceKey(choice);

  const create = useMutation({
    mutationFn: async (c: ShareChoice): Promise<CreatedShare> => {
      const path = `/v1/image/${image.id}/links`;
      const one = await api.json<SignedLink>('POST', path, linkRequest(c));
      try {
        const two = await api.json<SignedLink>('POST', path, linkRequest(c, 2));
        return { made: choiceKey(c), one, two };
      } catch (err) {
        // The 1× link stands on its own: a 2× render over the caps only leaves the srcset out.
        if (err instanceof ApiError && err.code === 'invalid_request') return { made: choiceKey(c), one, twoRefused: err.message };
        throw err;
      }
    },
  });
  const shown = create.data?.made === made ? create.data : undefined;

  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (isComplete(choice)) create.mutate(choice);
  };

  const choosePreset = () => {
    const first = presets.data?.items[0]?.name;
    setChoice((c) => ({ ...c, source: 'preset', preset: c.preset || first || '', format: undefined }));
  };

  const formats: Array<{ value: RenderFormat | typeof PRESET_FORMAT; label: string }> = [
    ...(choice.source === 'preset' ? [{ value: PRESET_FORMAT, label: "Preset's" } as const] : []),
    { value: 'auto', label: FORMAT_LABELS.auto },
    ...OUTPUT_FORMATS.map((f) => ({ value: f, label: FORMAT_LABELS[f] })),
  ];
  const formatValue = choice.format ?? (choice.source === 'preset' ? PRESET_FORMAT : 'auto');

  // The size the image shown has, and the size of the 1× link's image (the same render but for the format).
  const previewSize = natural && natural.path === preview.path ? natural : null;
  const size = natural && natural.path === previewPath ? natural : null;
  const snippet = shown && imgSnippet({ src: shown.one.url, src2x: shown.two?.url, width: size?.width, height: size?.height });

  return (
    <div id={id}>
      <form className="form share-form" onSubmit={submit}>
        <div className="field">
          <span className="field-label">Render</span>
          <Segmented
            label="Render a size or a preset"
            options={SOURCES}
            value={choice.source}
            onChange={(source) => (source === 'preset' ? choosePreset() : set({ source }))}
            small
            testId="share-source"
          />
        </div>

        {choice.source === 'size' ? (
          <div className="field-row">
            <Field label="Width">
              {(id) => <NumberInput id={id} value={choice.w} onChange={(w) => set({ w })} placeholder="px" data-testid="share-width" />}
            </Field>
            <Field label="Height" optional>
              {(id) => <NumberInput id={id} value={choice.h} onChange={(h) => set({ h })} placeholder="px" data-testid="share-height" />}
            </Field>
            <Field label="Fit">
              {(id) => (
                <select id={id} className="input" value={choice.fit} onChange={(e) => set({ fit: e.target.value as ShareChoice['fit'] })} data-testid="share-fit">
                  {FIT_CHOICES.map((f) => (
                    <option key={f} value={f}>
                      {FIT_LABELS[f]}
                    </option>
                  ))}
                </select>
              )}
            </Field>
          </div>
        ) : session.can('presets') ? (
          <Field
            label="Preset"
            hint={
              presets.data?.items.length === 0 ? (
                <>
                  No presets yet: <Link to="/presets">create one</Link>.
                </>
              ) : (
                <>
                  Managed on the <Link to="/presets">Presets</Link> page.
                </>
              )
            }
          >
            {(id) => (
              <select id={id} className="input" value={choice.preset} onChange={(e) => set({ preset: e.target.value })} disabled={!presets.data?.items.length} data-testid="share-preset">
                {!presets.data?.items.length && <option value="">{presets.isPending ? 'Loading…' : 'No presets'}</option>}
                {presets.data?.items.map((p) => (
                  <option key={p.name} value={p.name}>
                    {p.name} — {presetSummary(p)}
                  </option>
                ))}
              </select>
            )}
          </Field>
        ) : (
          <Field label="Preset name" hint="The name of a preset your administrator made.">
            {(id) => <input id={id} className="input input-mono" value={choice.preset} onChange={(e) => set({ preset: e.target.value })} placeholder="card" autoComplete="off" maxLength={40} data-testid="share-preset" />}
          </Field>
        )}

        <div className="field">
          <span className="field-label">Format</span>
          <Segmented label="Format" options={formats} value={formatValue} onChange={(f) => set({ format: f === PRESET_FORMAT ? undefined : f })} small testId="share-format" />
          {formatValue === 'auto' && <p className="field-hint">AVIF, WebP, PNG or JPEG: whatever each visitor's browser takes.</p>}
        </div>

        <div className="field">
          <span className="field-label">Works for</span>
          <Segmented label="Link lifetime" options={LIFETIMES} value={choice.expiresIn} onChange={(expiresIn) => set({ expiresIn })} small testId="share-lifetime" />
        </div>

        <figure className="share-preview" data-state={preview.state} aria-busy={preview.state === 'loading'}>
          <div className="share-preview-frame">
            {preview.state === 'error' ? (
              <p className="share-preview-message field-error" role="alert" data-testid="share-preview-error">
                <Icon name="alert" size={16} />
                {preview.error}
              </p>
            ) : preview.url ? (
              <img
                src={preview.url}
                alt={`Preview of the shared render of ${image.filename}`}
                data-testid="share-preview"
                className={preview.state === 'loading' ? 'is-stale' : undefined}
                onLoad={(e) => preview.path && setNatural({ path: preview.path, width: e.currentTarget.naturalWidth, height: e.currentTarget.naturalHeight })}
              />
            ) : (
              <span className="share-preview-message dim">{previewPath ? 'Rendering…' : 'Choose a preset'}</span>
            )}
          </div>
          {preview.state === 'ready' && (
            <figcaption data-testid="share-preview-info">
              {previewSize ? `${previewSize.width} × ${previewSize.height} · ` : ''}
              {formatOfType(preview.type)} · {formatBytes(preview.bytes)}
            </figcaption>
          )}
        </figure>

        <FormError message={create.error?.message} testId="share-error" />
        <div>
          <button type="submit" className="button button-primary" disabled={!isComplete(choice) || create.isPending}>
            <Icon name="link" size={17} />
            {create.isPending ? 'Creating…' : 'Create link'}
          </button>
        </div>
      </form>

      {shown && snippet && (
        <div className="share-result" data-testid="share-result">
          <CopyableValue label={`Link · works until ${formatDateTime(shown.one.expiresAt)}`} value={shown.one.url} copyLabel="Copy link" what="Link" stacked testId="share-link-url" />
          <CopyableValue label={shown.two ? '<img> for 1× and 2× screens' : '<img>'} value={snippet} copyLabel="Copy <img>" what="<img> snippet" subtle stacked testId="share-link-srcset" />
          {shown.twoRefused && <p className="field-hint">No 2× link: {shown.twoRefused}</p>}
          <a className="external-link" href={shown.one.url} target="_blank" rel="noreferrer">
            Open the link
            <Icon name="external" size={14} />
          </a>
        </div>
      )}
    </div>
  );
}
