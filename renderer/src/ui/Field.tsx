import { useId, type ReactNode } from 'react';
import { Icon } from './Icon';

/**
 * A labelled form field: the label tied to its control by id (the control is the caller's, given
 * that id), "(optional)" where it may be left empty, and a hint under it.
 */
export function Field({ label, optional, hint, children }: { label: ReactNode; optional?: boolean; hint?: ReactNode; children: (id: string) => ReactNode }) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id} className="field-label">
        {label}
        {optional && <span className="dim"> (optional)</span>}
      </label>
      {children(id)}
      {hint && <p className="field-hint">{hint}</p>}
    </div>
  );
}

/** Why a form was refused: the API's own message, announced when it appears. */
export function FormError({ id, message, testId }: { id?: string; message: string | undefined; testId?: string }) {
  if (!message) return null;
  return (
    <p id={id} className="field-error" role="alert" data-testid={testId}>
      <Icon name="alert" size={16} />
      {message}
    </p>
  );
}
