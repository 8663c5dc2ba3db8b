import { useMutation } from '@tanstack/react-query';
import { useEffect, useState, type FormEvent } from 'react';
import type { CreatedWebhook, WebhookEndpoint } from '../../api/schemas';
import { useSession } from '../../auth/SessionContext';
import { Dialog } from '../../ui/Dialog';
import { CopyableValue } from '../../ui/CopyableValue';
import { Field, FormError } from '../../ui/Field';
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
        <CopyableValue label={created.url} value={created.secret} copyLabel="Copy secret" what="Secret" testId="created-webhook-secret" />
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
        <Field label="URL" hint="Messages are POSTed here as JSON, signed per Standard Webhooks.">
          {(id) => <input id={id} className="input" type="url" value={url} onChange={(e) => setUrl(e.target.value)} placeholder="https://example.com/darkroom-webhook" required autoFocus />}
        </Field>
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
        <Field label="Description" optional>
          {(id) => <input id={id} className="input" value={description} onChange={(e) => setDescription(e.target.value)} maxLength={200} autoComplete="off" />}
        </Field>
        <FormError message={save.error?.message} />
      </form>
    </Dialog>
  );
}
