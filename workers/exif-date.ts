/** "2024:06:01 14:03:22" → "2024-06-01T14:03:22" (local camera time, no zone: EXIF has none). */
export function exifDateToIso(value: string): string {
  const m = /^(\d{4}):(\d{2}):(\d{2})[ T](\d{2}):(\d{2}):(\d{2})/.exec(value);
  return m ? `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}` : value;
}
