/** Where the window was, so it opens there again; pure except for the two small file helpers. */
import fs from 'node:fs';
import path from 'node:path';

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface WindowState {
  bounds: Partial<Pick<Rect, 'x' | 'y'>> & Pick<Rect, 'width' | 'height'>;
  maximized: boolean;
}

export const DEFAULT_SIZE = { width: 1280, height: 820 };
export const MIN_SIZE = { width: 720, height: 480 };
/** At least this much of the title bar must be on a screen for a saved position to be used. */
const VISIBLE = { width: 120, height: 40 };

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && Math.abs(v) < 100_000;

/** A saved state read back from disk (any JSON): the valid state, or undefined. */
export function parseWindowState(raw: unknown): WindowState | undefined {
  const r = raw as { bounds?: Record<string, unknown>; maximized?: unknown } | null;
  const b = r?.bounds;
  if (!b || !isInt(b.width) || !isInt(b.height) || b.width <= 0 || b.height <= 0) return undefined;
  const bounds: WindowState['bounds'] = { width: b.width, height: b.height };
  if (isInt(b.x) && isInt(b.y)) Object.assign(bounds, { x: b.x, y: b.y });
  return { bounds, maximized: r.maximized === true };
}

/**
 * The state to open with, given the screens there are now: the saved size, at least the minimum
 * and at most the largest screen; the saved position only if the top of the window would be
 * on a screen (a monitor unplugged since must not leave the window out of reach).
 */
export function placeWindow(saved: WindowState | undefined, workAreas: Rect[]): WindowState {
  const largest = workAreas.reduce((a, b) => (b.width * b.height > a.width * a.height ? b : a), workAreas[0] ?? { x: 0, y: 0, ...DEFAULT_SIZE });
  const clamp = (v: number, min: number, max: number) => Math.max(min, Math.min(max, v));
  const width = clamp(saved?.bounds.width ?? DEFAULT_SIZE.width, MIN_SIZE.width, Math.max(MIN_SIZE.width, largest.width));
  const height = clamp(saved?.bounds.height ?? DEFAULT_SIZE.height, MIN_SIZE.height, Math.max(MIN_SIZE.height, largest.height));
  const { x, y } = saved?.bounds ?? {};
  const titleBar = x !== undefined && y !== undefined ? { x, y, width, height: VISIBLE.height } : undefined;
  const visible = titleBar !== undefined && workAreas.some((area) => overlap(titleBar, area, VISIBLE));
  return { bounds: visible ? { x, y, width, height } : { width, height }, maximized: saved?.maximized ?? false };
}

function overlap(a: Rect, b: Rect, atLeast: { width: number; height: number }): boolean {
  const w = Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x);
  const h = Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y);
  return w >= Math.min(atLeast.width, a.width) && h >= Math.min(atLeast.height, a.height);
}

export function readWindowState(file: string): WindowState | undefined {
  try {
    return parseWindowState(JSON.parse(fs.readFileSync(file, 'utf8')));
  } catch {
    return undefined;
  }
}

/** Written to a temp file and renamed, so a crash never leaves half a file. */
export function writeWindowState(file: string, state: WindowState): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(state));
  fs.renameSync(tmp, file);
}
