/**
 * Camera RAWs: their format is `raw`, and `raw_format` says which maker's format (`dng`, `cr2`,
 * `nef`, …; workers/raw-formats.ts). Their variants are made from the JPEG preview the
 * camera embedded: `preview_width`/`preview_height` are its size, upright, once processed, so
 * a record can say when the variants were limited by it rather than by what was asked.
 */
export const sql = /* sql */ `
ALTER TABLE images ADD COLUMN raw_format TEXT;
ALTER TABLE images ADD COLUMN preview_width INTEGER;
ALTER TABLE images ADD COLUMN preview_height INTEGER;
`;
