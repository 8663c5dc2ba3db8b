import { copyText } from './download';
import { Icon } from './Icon';
import { useToast } from './Toasts';

/**
 * A value to copy elsewhere (a new key, a login link, a signed link): shown whole, selectable,
 * with a button that copies it and says so.
 */
export function CopyableValue({
  label,
  value,
  copyLabel,
  what,
  subtle = false,
  stacked = false,
  testId,
}: {
  label: string;
  value: string;
  /** The button's text ("Copy key"). */
  copyLabel: string;
  /** What the toast says was copied ("Key"). */
  what: string;
  subtle?: boolean;
  /** The button under the value rather than beside it: for long values in a narrow column. */
  stacked?: boolean;
  testId?: string;
}) {
  const toast = useToast();
  const copy = async () => {
    const copied = await copyText(value);
    toast(copied ? `${what} copied` : 'Could not copy; select it and copy by hand', copied ? 'success' : 'error');
  };
  return (
    <div className={subtle ? 'secret secret-subtle' : 'secret'}>
      <span className="secret-label">{label}</span>
      <div className={stacked ? 'secret-row secret-row-stacked' : 'secret-row'}>
        <code className="secret-value" data-testid={testId}>
          {value}
        </code>
        <button type="button" className="button button-secondary button-sm" onClick={() => void copy()}>
          <Icon name="copy" size={15} />
          {copyLabel}
        </button>
      </div>
    </div>
  );
}
