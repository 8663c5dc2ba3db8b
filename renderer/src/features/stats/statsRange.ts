/** Statistics are by UTC day (CONTRACT §3); ranges are inclusive YYYY-MM-DD strings. */
export interface DateRange {
  from: string;
  to: string;
}

export const isoDay = (d: Date) => d.toISOString().slice(0, 10);

export function lastDays(days: number, now = new Date()): DateRange {
  const to = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
  const from = new Date(to.getTime() - (days - 1) * 86_400_000);
  return { from: isoDay(from), to: isoDay(to) };
}

/** Every day of a range, so days without uploads still show as zero. */
export function daysOf(range: DateRange, limit = 400): string[] {
  const out: string[] = [];
  const start = Date.parse(`${range.from}T00:00:00Z`);
  const end = Date.parse(`${range.to}T00:00:00Z`);
  if (!Number.isFinite(start) || !Number.isFinite(end)) return out;
  for (let t = start; t <= end && out.length < limit; t += 86_400_000) out.push(isoDay(new Date(t)));
  return out;
}

export const validRange = (r: DateRange) => /^\d{4}-\d{2}-\d{2}$/.test(r.from) && /^\d{4}-\d{2}-\d{2}$/.test(r.to) && r.from <= r.to;
