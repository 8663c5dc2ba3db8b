/** A determinate progress bar, announced to assistive technology with its value. */
export function ProgressBar({ value, label, tone = 'accent', size = 'md' }: { value: number; label: string; tone?: 'accent' | 'done' | 'error' | 'muted'; size?: 'sm' | 'md' }) {
  const clamped = Math.max(0, Math.min(100, Math.round(value)));
  return (
    <div className={`progress progress-${tone} progress-${size}`} role="progressbar" aria-label={label} aria-valuemin={0} aria-valuemax={100} aria-valuenow={clamped}>
      <div className="progress-fill" style={{ transform: `scaleX(${clamped / 100})` }} />
    </div>
  );
}
