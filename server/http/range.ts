const MAX_RANGE_HEADER = 200;

/**
 * One `Range: bytes=…` request header against a body of `size` bytes (RFC 9110 §14), for every
 * download (http/send-ranged.ts), local or from the S3 bucket.
 *
 * - undefined: answer the whole body (no header, a stale `If-Range`, a unit other than bytes, or
 *   several ranges, which a server may always answer in full);
 * - 'unsatisfiable': answer 416, with a `Content-Range` that gives the size;
 * - otherwise the inclusive range to answer with 206.
 */
export function parseRange(
  header: string | undefined,
  size: number,
  ifRange?: string,
  etag?: string,
): { start: number; end: number } | 'unsatisfiable' | undefined {
  // A header of one range is a few dozen characters; anything longer is not one we answer, and
  // is not worth a regular expression's time (whitespace runs made the old pattern quadratic).
  if (!header || header.length > MAX_RANGE_HEADER) return undefined;
  // If-Range with a date, or with another entity tag: the client's partial copy is stale.
  if (ifRange !== undefined && ifRange !== etag) return undefined;
  const compact = header.replace(/[ \t]+/g, '');
  const match = /^bytes=(.+)$/i.exec(compact);
  if (!match) return undefined;
  const specs = match[1]!.split(',');
  if (specs.length !== 1) return undefined;
  const spec = /^(\d*)-(\d*)$/.exec(specs[0]!);
  if (!spec || (spec[1] === '' && spec[2] === '')) return undefined;
  if (spec[1] === '') {
    // A suffix: the last N bytes.
    const length = Number(spec[2]);
    if (length === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - length), end: size - 1 };
  }
  const start = Number(spec[1]);
  const end = spec[2] === '' ? size - 1 : Math.min(Number(spec[2]), size - 1);
  if (spec[2] !== '' && Number(spec[2]) < start) return undefined; // invalid: ignore the header
  if (start >= size) return 'unsatisfiable';
  return { start, end };
}
