import { Bar, BarChart, CartesianGrid, Legend, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import type { StatsGroup } from '../../api/schemas';
import { daysOf, type DateRange } from './statsRange';
import { useChartColors, useThemeTokens } from './useChartColors';

export type Measure = 'uploaded' | 'processed';

const shortDay = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', timeZone: 'UTC' });
const formatDay = (day: string) => shortDay.format(new Date(`${day}T00:00:00Z`));

/** Uploads (or processed images) per day, stacked by the uploaded format. */
export function StatsChart({ groups, range, measure }: { groups: StatsGroup[]; range: DateRange; measure: Measure }) {
  const colors = useChartColors();
  const tokens = useThemeTokens();
  const formats = [...new Set(groups.map((g) => g.format ?? 'other'))].sort(
    (a, b) => total(groups, b, measure) - total(groups, a, measure) || a.localeCompare(b),
  );
  const byDay = new Map<string, Record<string, number | string>>();
  for (const day of daysOf(range)) byDay.set(day, { day });
  for (const g of groups) {
    if (!g.day) continue;
    const row = byDay.get(g.day) ?? { day: g.day };
    const key = g.format ?? 'other';
    row[key] = Number(row[key] ?? 0) + g[measure];
    byDay.set(g.day, row);
  }
  const data = [...byDay.values()].sort((a, b) => String(a.day).localeCompare(String(b.day)));
  const empty = groups.every((g) => g[measure] === 0);

  return (
    <div className="chart" role="img" aria-label={`${measure === 'uploaded' ? 'Uploads' : 'Processed images'} per day by format, from ${range.from} to ${range.to}`}>
      {empty && <p className="chart-empty">Nothing {measure === 'uploaded' ? 'uploaded' : 'processed'} in this period.</p>}
      <ResponsiveContainer width="100%" height={300}>
        <BarChart data={data} margin={{ top: 8, right: 8, bottom: 0, left: -12 }} barCategoryGap="22%">
          <CartesianGrid vertical={false} stroke={tokens.grid} />
          <XAxis dataKey="day" tickFormatter={formatDay} tick={{ fill: tokens.text, fontSize: 12 }} tickLine={false} axisLine={{ stroke: tokens.border }} minTickGap={16} />
          <YAxis allowDecimals={false} tick={{ fill: tokens.text, fontSize: 12 }} tickLine={false} axisLine={false} width={48} />
          <Tooltip
            cursor={{ fill: tokens.grid, opacity: 0.5 }}
            labelFormatter={(day) => formatDay(String(day))}
            contentStyle={{ background: tokens.surface, border: `1px solid ${tokens.border}`, borderRadius: 8, fontSize: 13 }}
          />
          <Legend iconType="circle" iconSize={9} wrapperStyle={{ fontSize: 13, color: tokens.text }} formatter={(value: string) => value.toUpperCase()} />
          {formats.map((format, i) => (
            <Bar key={format} dataKey={format} name={format} stackId="formats" fill={colors[i % colors.length]} isAnimationActive={false} />
          ))}
        </BarChart>
      </ResponsiveContainer>
    </div>
  );
}

const total = (groups: StatsGroup[], format: string, measure: Measure) =>
  groups.filter((g) => (g.format ?? 'other') === format).reduce((sum, g) => sum + g[measure], 0);
