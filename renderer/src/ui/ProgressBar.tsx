/**
 * A determinate progress bar, announced to assistive technology with its value. `busy` (a word
 * such as "Importing") is for work without measurable progress: the bar sweeps instead of
 * filling, and the word is what assistive technology reads.
 */
export function ProgressBar({
  value,
  label,
  tone = 'accent',
  size = 'md',
  busy,
}: {
  value: number;
  label: string;
  tone?: 'accent' | 'done' | 'error' | 'muted';
  size?: 'sm' | 'md';
  busy?: string;
}) {
  const clamped = Math.max(0, Math.min(100, Math.round(value)));
  return (
    <div
      className={`progress progress-${tone} progress-${size}${busy ? ' progress-busy' : ''}`}
      role="progressbar"
      aria-label={label}
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={clamped}
      aria-valuetext={busy}
      aria-busy={busy ? true : undefined}
    >
      <div className="progress-fill" style={busy ? undefined : { transform: `scaleX(${clamped / 100})` }} />
    </div>
  );
}
