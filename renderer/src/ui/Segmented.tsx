/**
 * One choice of a few, as a row of toggle buttons (the look of the library's status filter): a
 * named group whose pressed button is the value.
 */
export function Segmented<T extends string>({
  label,
  options,
  value,
  onChange,
  small = false,
  testId,
}: {
  label: string;
  options: ReadonlyArray<{ value: T; label: string }>;
  value: T;
  onChange: (value: T) => void;
  small?: boolean;
  testId?: string;
}) {
  return (
    <div className={small ? 'segmented segmented-sm' : 'segmented'} role="group" aria-label={label} data-testid={testId}>
      {options.map((o) => (
        <button key={o.value} type="button" className="segmented-item" aria-pressed={value === o.value} onClick={() => onChange(o.value)}>
          {o.label}
        </button>
      ))}
    </div>
  );
}
