import { useId, useState, type FormEvent } from 'react';
import { Icon } from '../ui/Icon';
import { useSessionControl } from './SessionContext';

export function LoginView({ error }: { error?: string }) {
  const { signIn } = useSessionControl();
  const [key, setKey] = useState('');
  const [visible, setVisible] = useState(false);
  const [busy, setBusy] = useState(false);
  const inputId = useId();
  const errorId = useId();

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!key.trim()) return;
    setBusy(true);
    try {
      await signIn(key.trim());
    } catch {
      setBusy(false);
    }
  };

  return (
    <main className="login">
      <div className="login-card">
        <div className="login-brand">
          <span className="brand-mark brand-mark-lg">
            <Icon name="aperture" size={28} />
          </span>
          <h1>Sign in to Darkroom</h1>
          <p>Your self-hosted image processing engine.</p>
        </div>
        <form onSubmit={submit} noValidate>
          <label htmlFor={inputId} className="field-label">
            API key
          </label>
          <div className="input-with-button">
            <input
              id={inputId}
              className="input input-mono"
              type={visible ? 'text' : 'password'}
              autoComplete="off"
              spellCheck={false}
              placeholder="drk_…"
              value={key}
              onChange={(e) => setKey(e.target.value)}
              aria-invalid={error ? true : undefined}
              aria-describedby={error ? errorId : undefined}
              autoFocus
            />
            <button type="button" className="icon-button" onClick={() => setVisible((v) => !v)} aria-label={visible ? 'Hide key' : 'Show key'} aria-pressed={visible}>
              <Icon name={visible ? 'eyeOff' : 'eye'} />
            </button>
          </div>
          {error && (
            <p id={errorId} className="field-error" role="alert">
              <Icon name="alert" size={16} />
              {error}
            </p>
          )}
          <button type="submit" className="button button-primary button-block" disabled={busy || !key.trim()}>
            {busy ? 'Signing in…' : 'Sign in'}
          </button>
        </form>
        <p className="login-hint">
          Use a key from your administrator, or the login link the server prints when it starts. The key is kept only in this tab.
        </p>
      </div>
    </main>
  );
}
