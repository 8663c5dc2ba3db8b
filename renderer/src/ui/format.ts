/** Numbers, sizes, durations and dates as people read them. */

const numberFormat = new Intl.NumberFormat();

export const formatCount = (n: number) => numberFormat.format(n);

export function formatBytes(bytes: number | null | undefined, digits = 1): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes)) return '—';
  if (bytes < 1000) return `${bytes} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let value = bytes / 1000;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${value.toFixed(value >= 100 ? 0 : digits)} ${units[unit]}`;
}

export const formatSpeed = (bytesPerSecond: number) => `${formatBytes(bytesPerSecond)}/s`;

/** Seconds → "4 s", "2 min 05 s", "1 h 20 min". */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '—';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}

export function formatMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const dateOnly = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' });

export function formatDateTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : dateTime.format(d);
}

export function formatDate(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : dateOnly.format(d);
}

const relative = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });

/** "in 7 days", "3 hours ago". */
export function formatRelative(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return '—';
  const diff = (new Date(iso).getTime() - now) / 1000;
  const abs = Math.abs(diff);
  if (abs < 60) return relative.format(Math.round(diff), 'second');
  if (abs < 3600) return relative.format(Math.round(diff / 60), 'minute');
  if (abs < 86400) return relative.format(Math.round(diff / 3600), 'hour');
  return relative.format(Math.round(diff / 86400), 'day');
}

/** An image's format as the UI names it: `RAW · DNG` for a camera RAW, `JPEG` for a JPEG. */
export function formatName(image: { format: string; rawFormat?: string }): string {
  return image.rawFormat ? `RAW · ${image.rawFormat.toUpperCase()}` : image.format.toUpperCase();
}

export function formatDimensions(width: number | null | undefined, height: number | null | undefined): string {
  return width && height ? `${width} × ${height}` : '—';
}

export function formatMegapixels(width: number, height: number): string {
  return `${((width * height) / 1e6).toFixed(1)} MP`;
}

/** 0.004 → "1/250 s", 2 → "2 s". */
export function formatExposure(seconds: number | undefined): string | undefined {
  if (!seconds || !Number.isFinite(seconds)) return undefined;
  if (seconds >= 1) return `${Number(seconds.toFixed(1))} s`;
  return `1/${Math.round(1 / seconds)} s`;
}

/** 48.8582, 2.2945 → "48.85820° N, 2.29450° E". */
export function formatCoordinates(latitude: number, longitude: number): string {
  const lat = `${Math.abs(latitude).toFixed(5)}° ${latitude >= 0 ? 'N' : 'S'}`;
  const lon = `${Math.abs(longitude).toFixed(5)}° ${longitude >= 0 ? 'E' : 'W'}`;
  return `${lat}, ${lon}`;
}

export const formatUpper = (s: string | null | undefined) => (s ? s.toUpperCase() : '—');

/** A configured limit: "10 GiB" when it is a whole number of binary units, else like formatBytes. */
export function formatLimit(bytes: number): string {
  for (const [unit, size] of [['TiB', 2 ** 40], ['GiB', 2 ** 30], ['MiB', 2 ** 20]] as const) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size} ${unit}`;
  }
  return formatBytes(bytes);
}

/** A server message as a sentence: capital first letter, full stop at the end. */
export const sentence = (s: string) => (s ? `${s[0]!.toUpperCase()}${s.slice(1)}${/[.!?]$/.test(s) ? '' : '.'}` : s);

const SPACES: Record<string, string> = { srgb: 'sRGB', rgb: 'RGB', rgb16: 'RGB (16-bit)', cmyk: 'CMYK', 'b-w': 'Greyscale', grey16: 'Greyscale (16-bit)', lab: 'Lab', scrgb: 'scRGB' };
export const formatColourSpace = (space: string | null | undefined) => (space ? (SPACES[space] ?? space.toUpperCase()) : '—');

const DEPTHS: Record<string, string> = { uchar: '8-bit', char: '8-bit', ushort: '16-bit', short: '16-bit', uint: '32-bit', int: '32-bit', float: '32-bit float', double: '64-bit float' };
export const formatDepth = (depth: string | null | undefined) => (depth ? (DEPTHS[depth] ?? depth) : '—');
