import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** One measured figure, with the baseline measured in the same run where there is one. */
export interface BenchEntry {
  suite: string;
  name: string;
  value: number;
  unit: string;
  baseline?: { name: string; value: number };
  /** value / baseline (or baseline / value for "lower is better"), > 1 is better than the baseline. */
  ratio?: number;
  target?: string;
  met?: boolean;
  notes?: string;
}

export const RESULTS_FILE = path.resolve(fileURLToPath(new URL('.', import.meta.url)), '../../bench/results.json');

export function printTable(entries: BenchEntry[]): void {
  const rows = entries.map((e) => [
    e.suite,
    e.name,
    `${format(e.value)} ${e.unit}`,
    e.baseline ? `${format(e.baseline.value)} ${e.unit} (${e.baseline.name})` : '',
    e.ratio === undefined ? '' : `${e.ratio.toFixed(2)}×`,
    e.target ?? '',
    e.met === undefined ? '' : e.met ? 'met' : 'MISSED',
  ]);
  const header = ['suite', 'figure', 'value', 'baseline (same run)', 'ratio', 'target', ''];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  console.log(line(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const r of rows) console.log(line(r));
}

/** Merges this run's entries into bench/results.json (entries of suites not run are kept). */
export function saveResults(entries: BenchEntry[], meta: Record<string, unknown>): void {
  let previous: { entries?: BenchEntry[] } = {};
  try {
    previous = JSON.parse(fs.readFileSync(RESULTS_FILE, 'utf8'));
  } catch {
    // first run
  }
  const suites = new Set(entries.map((e) => e.suite));
  const kept = (previous.entries ?? []).filter((e) => !suites.has(e.suite));
  fs.mkdirSync(path.dirname(RESULTS_FILE), { recursive: true });
  fs.writeFileSync(RESULTS_FILE, `${JSON.stringify({ ...meta, entries: [...kept, ...entries] }, null, 2)}\n`);
}

function format(n: number): string {
  if (Math.abs(n) >= 100) return n.toFixed(0);
  if (Math.abs(n) >= 10) return n.toFixed(1);
  return n.toFixed(3);
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function quantile(values: number[], q: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
}
