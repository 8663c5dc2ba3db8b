import { useMutation } from '@tanstack/react-query';
import { useEffect, useId, useState, type FormEvent } from 'react';
import type { CreatedWebhook, WebhookEndpoint } from '../../api/schemas';
import { useSession } from '../../auth/SessionContext';
import { Dialog } from '../../ui/Dialog';
import { copyText } from '../../ui/download';
import { Icon } from '../../ui/Icon';
import { useToast } from '../../ui/Toasts';

/** The events an endpoint can take (CONTRACT §11), as the API names them. */
const EVENTS = [
  { value: 'image.processed', label: 'Image processed' },
  { value: 'image.failed', label: 'Image failed' },
  { value: 'image.deleted', label: 'Image deleted' },
  { value: 'image.expired', label: 'Processed files expired' },
] as const;

/**
 * Registers an endpoint (then shows its signing secret, once) or changes one (`editing`):
 * its URL, the events it takes (all, or some), its description.
 */
export function EndpointDialog({ open, editing, onClose, onSaved }: { open: boolean; editing: WebhookEndpoint | null; onClose: () => void; onSaved: () => void }) {
  const { api } = useSession();
  const toast = useToast();
  const [url, setUrl] = useState('');
  const [all, setAll] = useState(true);
  const [events, setEvents] = useState<string[]>([]);
  const [description, setDescription] = useState('');
  const [created, setCreated] = useState<CreatedWebhook | null>(null);
  const urlId = useId();
  const descriptionId = useId();

  useEffect(() => {
    if (!open) return;
    setUrl(editing?.url ?? '');
    setAll(!editing || editing.events.includes('*'));
    setEvents(editing && !editing.events.includes('*') ? [...editing.events] : []);
    setDescription(editing?.description ?? '');
    setCreated(null);
    save.reset();
  }, [open, editing]);

  const body = () => ({ url: url.trim(), events: all ? ['*'] : events, description: description.trim() || (editing ? null : undefined) });
  const save = useMutation({
    mutationFn: () =>
      editing
        ? api.json<WebhookEndpoint>('PATCH', `/v1/webhooks/${editing.id}`, body())
        : api.json<CreatedWebhook>('POST', '/v1/webhooks', { ...body(), description: description.trim() || undefined }),
    onSuccess: (endpoint) => {
      onSaved();
      if (editing) {
        toast('Endpoint saved', 'success');
        onClose();
      } else setCreated(endpoint as CreatedWebhook);
    },
  });

  const submit = (e: FormEvent) => {
    e.preventDefault();
    save.mutate();
  };
  const toggle = (event: string) => setEvents((current) => (current.includes(event) ? current.filter((e) => e !== event) : [...current, event]));

  if (created) {
    return (
      <Dialog
        open={open}
        onClose={onClose}
        title="Endpoint added"
        description="Copy the signing secret now: it is shown only this once. Receivers verify every message with it."
        footer={
          <button type="button" className="button button-primary" onClick={onClose}>
            Done
          </button>
        }
      >
        <div className="secret">
          <span className="secret-label">{created.url}</span>
          <div className="secret-row">
            <code className="secret-value" data-testid="created-webhook-secret">
              {created.secret}
            </code>
            <button type="button" className="button button-secondary button-sm" onClick={() => void copyText(created.secret).then((ok) => toast(ok ? 'Secret copied' : 'Could not copy; select it and copy by hand', 'success'))}>
              <Icon name="copy" size={15} />
              Copy secret
            </button>
          </div>
        </div>
      </Dialog>
    );
  }

  const valid = url.trim() !== '' && (all || events.length > 0);
  return (
    <Dialog
      open={open}
      onClose={onClose}
      title={editing ? 'Edit endpoint' : 'Add a webhook endpoint'}
      footer={
        <>
          <button type="button" className="button button-secondary" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" form="webhook-form" className="button button-primary" disabled={save.isPending || !valid}>
            {save.isPending ? 'Saving…' : editing ? 'Save' : 'Add endpoint'}
          </button>
        </>
      }
    >
      <form id="webhook-form" className="form" onSubmit={submit}>
        <div className="field">
          <label htmlFor={urlId} className="field-label">
            URL
          </label>
          <input id={urlId} className="input" type="url" value={url} onChange={(e) => setUrl(e.target.value)} placeholder="https://example.com/darkroom-webhook" required autoFocus />
          <p className="field-hint">Messages are POSTed here as JSON, signed per Standard Webhooks.</p>
        </div>
        <fieldset className="field">
          <legend className="field-label">Events</legend>
          <label className="checkbox">
            <input type="checkbox" checked={all} onChange={(e) => setAll(e.target.checked)} /> All events
          </label>
          {!all &&
            EVENTS.map((ev) => (
              <label key={ev.value} className="checkbox">
                <input type="checkbox" checked={events.includes(ev.value)} onChange={() => toggle(ev.value)} /> {ev.label} <span className="mono dim">{ev.value}</span>
              </label>
            ))}
        </fieldset>
        <div className="field">
          <label htmlFor={descriptionId} className="field-label">
            Description <span className="dim">(optional)</span>
          </label>
          <input id={descriptionId} className="input" value={description} onChange={(e) => setDescription(e.target.value)} maxLength={200} autoComplete="off" />
        </div>
        {save.error && (
          <p className="field-error" role="alert">
            <Icon name="alert" size={16} />
            {save.error.message}
          </p>
        )}
      </form>
    </Dialog>
  );
}
