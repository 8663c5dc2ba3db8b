/**
 * The API's types and enumerations, taken from the schemas the server validates and answers
 * with (server/api/): the UI keeps no copy of its own, so a field the server renames breaks the
 * UI's build instead of its users. Types only (erased at build), plus the zod-free value lists,
 * so zod itself stays out of the bundle.
 */
export type * from '../../../server/api/index.js';
export { FITS, OUTPUT_FORMATS, POSITIONS, RENDER_FORMATS } from '../../../server/api/vocabulary.js';
