import type { InputHTMLAttributes } from 'react';

/**
 * A whole number or nothing: only digits are taken (a size or a quality is never negative or
 * fractional), and empty means "not given", so the server's default applies. Ranges are the
 * server's to judge: its 400 names the parameter and the range.
 */
export function NumberInput({
  value,
  onChange,
  small = false,
  placeholder = '—',
  ...rest
}: { value: number | undefined; onChange: (value: number | undefined) => void; small?: boolean } & Omit<InputHTMLAttributes<HTMLInputElement>, 'value' | 'onChange'>) {
  return (
    <input
      {...rest}
      className={small ? 'input input-sm input-number' : 'input input-number'}
      inputMode="numeric"
      placeholder={placeholder}
      value={value ?? ''}
      onChange={(e) => {
        const digits = e.target.value.replace(/[^\d]/g, '');
        onChange(digits ? Number(digits) : undefined);
      }}
    />
  );
}
