/** The API's shapes, as the contract describes them (CONTRACT §3). */

export type Role = 'user' | 'business' | 'admin';
export type ImageStatus = 'queued' | 'processing' | 'done' | 'failed';
export type VariantStatus = 'pending' | 'done' | 'failed' | 'expired';
export type OutputFormat = 'webp' | 'avif' | 'jpeg' | 'png';
export type Fit = 'cover' | 'contain' | 'fill' | 'inside' | 'outside';

export interface Me {
  keyId: string;
  customer: string;
  role: Role;
  limits: {
    maxUploadBytes: number;
    maxInputPixels: number;
    /** What a variant may be: at most maxSide a side, maxPixels[format] pixels, maxVariants of them. */
    output: { maxSide: number; maxVariants: number; maxPixels: Record<OutputFormat, number> };
  };
}

export interface Variant {
  name: string;
  status: VariantStatus;
  format: OutputFormat;
  width: number | null;
  height: number | null;
  bytes: number | null;
  url: string;
  expiresAt: string | null;
}

export interface ImageRecord {
  id: string;
  customer: string;
  status: ImageStatus;
  filename: string;
  bytes: number;
  sha256: string;
  format: string;
  /** For a camera RAW (`format: raw`): the maker's format, `dng`, `cr3`, `nef`, … */
  rawFormat?: string;
  /** For a camera RAW: the size of the embedded preview its variants were made from (null until processed). */
  preview?: { width: number; height: number } | null;
  mimeType?: string;
  width: number;
  height: number;
  pages?: number;
  createdAt: string;
  processedAt: string | null;
  error: { code: string; message: string } | null;
  thumbhash?: string | null;
  dominantColor?: string | null;
  variants: Variant[];
}

export interface ImagePage {
  items: ImageRecord[];
  nextCursor: string | null;
}

export interface ImageMetadata {
  id: string;
  format: string;
  mimeType: string;
  bytes: number;
  sha256: string;
  width: number;
  height: number;
  orientation: number | null;
  space: string | null;
  channels: number | null;
  depth: string | null;
  density: number | null;
  hasAlpha: boolean | null;
  pages: number;
  iccDescription?: string | null;
  exif: {
    make?: string;
    model?: string;
    lensMake?: string;
    lensModel?: string;
    dateTimeOriginal?: string;
    exposureTime?: number;
    fNumber?: number;
    iso?: number;
    focalLength?: number;
    focalLengthIn35mm?: number;
    [key: string]: unknown;
  } | null;
  gps: { latitude: number; longitude: number; altitude?: number | null } | null;
  dominantColor: string | null;
  thumbhash: string | null;
  extracted?: boolean;
}

export interface VariantSpec {
  name: string;
  width?: number;
  height?: number;
  fit?: Fit;
  format?: OutputFormat;
  quality?: number;
}

export interface StatsTotals {
  uploaded: number;
  processed: number;
  failed: number;
  rejected: number;
  bytesIn: number;
  bytesOut: number;
}

export interface StatsGroup {
  customer?: string;
  format?: string;
  day?: string;
  uploaded: number;
  processed: number;
  failed: number;
  bytesIn: number;
  bytesOut: number;
  p50Ms: number | null;
  p95Ms: number | null;
}

export interface Stats {
  from: string;
  to: string;
  totals: StatsTotals;
  groups: StatsGroup[];
}

export interface ApiKey {
  id: string;
  customer: string;
  role: Role;
  name: string | null;
  prefix: string;
  createdAt: string;
  lastUsedAt: string | null;
}

export interface CreatedKey extends ApiKey {
  key: string;
}

/** A watch folder (GET /v1/watch). */
export interface WatchFolder {
  id: string;
  path: string;
  /** `flag`: from --watch (configuration, not removable here); `settings`: added through the API or the app. */
  source: 'flag' | 'settings';
  poll: boolean;
  mode: 'events' | 'polling';
  pollingReason: string | null;
  state: 'starting' | 'watching' | 'unavailable';
  error: string | null;
  counts: { ingested: number; rejected: number; pending: number };
  lastIngestedAt: string | null;
}

export interface SyncInFlight {
  op: string;
  key: string;
  bytes: number | null;
  bytesDone: number;
  resumedBytes: number;
  attempt: number;
  startedAt: string | null;
}

export interface SyncFailure {
  id: number;
  op: string;
  key: string;
  attempts: number;
  lastError: string | null;
  failedAt: string | null;
}

/** S3 sync status (GET /v1/sync): `{enabled: false}` without a bucket. */
export type SyncStatus =
  | { enabled: false }
  | {
      enabled: true;
      bucket: string;
      prefix: string;
      endpoint: string | null;
      region: string;
      url: string;
      reachable: boolean;
      outage: { since: string | null; lastError: string | null; nextProbeAt: string | null } | null;
      backlog: { jobs: number; bytes: number; oldestQueuedAt: string | null; unreadEvents: number };
      inFlight: SyncInFlight[];
      failed: { jobs: number; recent: SyncFailure[] };
      synced: { objects: number; bytes: number; deletedObjects: number };
      localOriginals: { bytes: number; maxBytes: number | null; evicted: number; evictedBytes: number; evictedSinceStart: number };
      lifecycle: { state: 'applied' | 'unsupported' | 'pending'; detail?: string };
    };
