/**
 * One `Range: bytes=…` request header against a body of `size` bytes (RFC 9110 §14), for bodies
 * not served by `send` (originals streamed from the S3 bucket).
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
  if (!header) return undefined;
  // If-Range with a date, or with another entity tag: the client's partial copy is stale.
  if (ifRange !== undefined && ifRange !== etag) return undefined;
  const match = /^\s*bytes\s*=\s*(.+)$/i.exec(header);
  if (!match) return undefined;
  const specs = match[1]!.split(',');
  if (specs.length !== 1) return undefined;
  const spec = /^\s*(\d*)\s*-\s*(\d*)\s*$/.exec(specs[0]!);
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
