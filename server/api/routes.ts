import { z } from 'zod';
import { IdParams, NoQuery } from './common.js';
import { ERROR_CATALOGUE, type ErrorCode } from './errors.js';
import { ImportRequest } from './import.js';
import { DownloadQuery, ImageMetadata, ImagePage, ImageParams, ImageRecord, ListImagesQuery, UploadQuery, UploadResponse } from './images.js';
import { CreatedKey, KeyList, NewKeyRequest } from './keys.js';
import { Health, Readiness } from './ops.js';
import { NodeList } from './nodes.js';
import { Preset, PresetList, PresetParamsPath, PresetValues } from './presets.js';
import { NewLinkRequest, SignedLink, SignedRenderQuery } from './links.js';
import { Me } from './session.js';
import { StatsQuery, StatsReport } from './stats.js';
import { SyncRetryResponse, SyncStatus } from './sync.js';
import type { Role } from './enums.js';
import { NewWatchFolderRequest, WatchFolder, WatchFolderList } from './watch.js';
import {
  CreatedWebhook,
  DeliveryParams,
  ListDeliveriesQuery,
  NewWebhookRequest,
  RotatedSecret,
  WebhookDelivery,
  WebhookDeliveryPage,
  WebhookEndpoint,
  WebhookList,
  WebhookParams,
  WebhookTestResponse,
  WebhookUpdate,
} from './webhooks.js';

/**
 * The route table: every operation of the HTTP API, with what it takes and every answer it can
 * give. It is the single source of the OpenAPI document (server/http/openapi/document.ts) and of
 * the test servers' check of every answer against it; a test holds it and the express routes
 * to the same list, so a route cannot exist undocumented. Plain data over the schemas: it
 * imports nothing but zod, like the rest of this folder.
 */

export type HttpMethod = 'get' | 'head' | 'post' | 'put' | 'patch' | 'delete' | 'options';

/** A body that is bytes, not JSON: documented as a binary string of its media type. */
export const BINARY = 'binary' as const;

export interface ApiResponse {
  description: string;
  /** Media type → its schema, or BINARY for bytes (downloads, CSV, the event stream). */
  content?: Record<string, z.ZodType | typeof BINARY>;
  /** Headers this answer carries (required ones are checked on every such answer in tests). */
  headers?: z.ZodObject;
}

export interface ApiRoute {
  method: HttpMethod;
  /** OpenAPI path template: `{id}`, not express's `:id`. */
  path: string;
  operationId: string;
  summary: string;
  description?: string;
  tag: Tag;
  /**
   * `key`: an API key (Bearer or X-Api-Key) is needed; `none`: anyone may ask; `key-or-link`: a
   * key, or a signed link's `sig` and `expires` in the query instead (render only).
   */
  auth: 'key' | 'none' | 'key-or-link';
  /** The roles allowed, where not every role is; such a route can also answer 403. */
  roles?: readonly Role[];
  params?: z.ZodObject;
  query?: z.ZodObject;
  headers?: z.ZodObject;
  body?: { required: boolean; content: Record<string, z.ZodType | typeof BINARY> };
  /** Successful and redirect-like answers (2xx, 3xx), by status. */
  responses: Record<number, ApiResponse>;
  /** Error codes this route can answer with beyond those every route of its kind can (see errorsOf). */
  errors?: readonly ErrorCode[];
}

export const TAGS = {
  images: 'Upload, list, read, download and delete images',
  uploads: 'Resumable uploads (tus 1.0: creation, creation-with-upload, termination)',
  events: 'Server-sent events',
  statistics: 'Statistics (roles business and admin)',
  keys: 'API keys (role admin)',
  session: 'Who the key is',
  watch: 'Watch folders (role admin)',
  sync: 'S3 sync (role admin)',
  webhooks: 'Webhook endpoints of the key\'s customer, their deliveries (roles user and admin); the messages themselves are under `webhooks`',
  nodes: 'The nodes of a cluster (role admin)',
  presets: 'Presets: named render parameters for render, upload variants and signed links (role admin; one list for the installation)',
  operations: 'Health, readiness, metrics and this description (no key)',
} as const;
export type Tag = keyof typeof TAGS;

// ---------------------------------------------------------------------------------------------
// Headers

const Text = (description: string) => z.string().meta({ description });

const IMAGE_ROLES = ['user', 'admin'] as const;
const STATS_ROLES = ['business', 'admin'] as const;
const ADMIN = ['admin'] as const;
const WEBHOOK_ROLES = ['user', 'admin'] as const;

const Location = z.strictObject({ Location: Text('The path of the created resource') });

const DownloadHeaders = z.object({
  'Content-Length': Text('Bytes of this answer\'s body'),
  ETag: Text('Strong validator of the file; send it back as If-None-Match or If-Range'),
  Expires: Text('When the file expires (--processed-ttl), as an HTTP date; a year ahead for originals'),
  'Cache-Control': Text('private, max-age until it expires'),
  'Content-Disposition': Text('attachment; the name it was uploaded under'),
  'Accept-Ranges': Text('bytes'),
});

const RenderHeaders = z.object({
  'Content-Length': Text('Bytes of this answer\'s body'),
  ETag: Text('Strong validator, the same for the same image, normalised parameters and output format; known before rendering'),
  'Darkroom-Cache': Text('hit: served from the stored render; miss: rendered for this request (or one identical to it that arrived together)'),
  'Cache-Control': Text('private, max-age until the stored render expires (--processed-ttl); for a signed link public, max-age no later than the link\'s expiry either'),
  Vary: Text('Accept, when format=auto chose the format').optional(),
});

const TusVersion = Text('1.0.0');
const TusHeaders = z.object({ 'Tus-Resumable': TusVersion });

/** The request headers of tus (https://tus.io/protocols/resumable-upload). */
const TusRequest = {
  resumable: TusVersion.meta({ description: 'The tus version: 1.0.0' }),
  length: Text('The size of the whole file in bytes (required; deferred length is not offered)'),
  metadata: Text('Comma-separated `key base64(value)` pairs: `filename`, `variants` (JSON of a variant list)'),
  offset: Text('Where this part starts: the offset the last HEAD answered'),
};

const PathIdOfUpload = z.strictObject({ id: z.string().min(1).meta({ description: 'The upload id (the last segment of the Location answered to its creation)' }) });
const ImageUploadForm = z
  .strictObject({
    image: z.array(z.string().meta({ format: 'binary' })).min(1).meta({ description: 'One or more image files' }),
    variants: z.string().optional().meta({ description: 'JSON text of a variant list (as the `variants` query parameter)' }),
  })
  .meta({ description: 'One or more files in fields named `image`' });

const SseEventStream = z.string().meta({
  description:
    'A text/event-stream. Each status change of an image of the caller\'s customer (every customer for admin keys) arrives as ' +
    '`event: image.status` with `data:` the JSON of an ImageStatusEvent; comment lines keep the stream alive.',
  'x-event-payloads': { 'image.status': { $ref: '#/components/schemas/ImageStatusEvent' } },
});

// ---------------------------------------------------------------------------------------------
// The routes

const imageUpload = (method: 'post' | 'put', operationId: string, summary: string): ApiRoute => ({
  method,
  path: '/v1/image',
  operationId,
  summary,
  description:
    'multipart/form-data with one or more file fields `image`, or a raw body with an image Content-Type (its name in X-Filename). ' +
    'The bytes are judged by their content, never by name. Answers 202 once the original is stored; processing follows. ' +
    'Formats: JPEG, PNG, WebP, GIF (animated in WebP variants), TIFF, AVIF, HEIC/HEIF (format heif; AV1-coded: avif), ' +
    'SVG (at most 2 MiB, rendered from its own bytes) and camera RAW (format raw, rawFormat the maker\'s: dng, cr3, nef, …). ' +
    'A RAW\'s variants are made from its largest embedded JPEG preview; without a usable one it ends failed with no_preview, the original kept. ' +
    'Telling a RAW apart needs ExifTool: while it does not answer, such an upload is refused 503 with Retry-After.',
  tag: 'images',
  auth: 'key',
  roles: IMAGE_ROLES,
  query: UploadQuery,
  headers: z.object({ 'X-Filename': Text('For a raw body: the file\'s name, percent-encoded').optional() }),
  body: { required: true, content: { 'multipart/form-data': ImageUploadForm, 'image/*': BINARY, 'application/octet-stream': BINARY } },
  responses: { 202: { description: 'Accepted: the record (an array of records for several files)', content: { 'application/json': UploadResponse }, headers: Location } },
  errors: ['payload_too_large', 'unsupported_media_type', 'pixel_limit_exceeded', 'no_preview', 'too_many_requests', 'insufficient_storage', 'request_timeout'],
});

const metadataRoute = (path: string, operationId: string, summary: string): ApiRoute => ({
  method: 'get',
  path,
  operationId,
  summary,
  description:
    'dateTimeOriginal is the camera\'s local time as written (offsetTimeOriginal where the camera wrote one). ' +
    'For a camera RAW every field comes from ExifTool: space, channels, depth, density and iccDescription are null.',
  tag: 'images',
  auth: 'key',
  roles: IMAGE_ROLES,
  params: ImageParams,
  query: NoQuery,
  responses: { 200: { description: 'The metadata read from the original', content: { 'application/json': ImageMetadata } } },
  errors: ['not_found'],
});

const tusOptions = (path: string, operationId: string): ApiRoute => ({
  method: 'options',
  path,
  operationId,
  summary: 'What the tus server offers',
  tag: 'uploads',
  auth: 'key',
  params: path.includes('{id}') ? PathIdOfUpload : undefined,
  query: NoQuery,
  responses: {
    204: {
      description: 'The versions, extensions and maximum size',
      headers: z.object({
        'Tus-Resumable': TusVersion,
        'Tus-Version': Text('Versions offered: 1.0.0'),
        'Tus-Extension': Text('creation,creation-with-upload,termination'),
        'Tus-Max-Size': Text('--max-upload-bytes'),
      }),
    },
  },
});

export const ROUTES: readonly ApiRoute[] = [
  imageUpload('post', 'uploadImage', 'Upload one or more images'),
  imageUpload('put', 'uploadImageByPut', 'Upload an image as a raw body (`curl -T`)'),
  {
    method: 'get',
    path: '/v1/images',
    operationId: 'listImages',
    summary: 'List images, newest first',
    tag: 'images',
    auth: 'key',
    roles: IMAGE_ROLES,
    query: ListImagesQuery,
    responses: { 200: { description: 'One page of records', content: { 'application/json': ImagePage } } },
  },
  {
    method: 'get',
    path: '/v1/image/{id}',
    operationId: 'getImage',
    summary: 'An image record',
    tag: 'images',
    auth: 'key',
    roles: IMAGE_ROLES,
    params: ImageParams,
    query: NoQuery,
    responses: { 200: { description: 'The record', content: { 'application/json': ImageRecord } } },
    errors: ['not_found'],
  },
  {
    method: 'delete',
    path: '/v1/image/{id}',
    operationId: 'deleteImage',
    summary: 'Delete an image: its record and every file',
    tag: 'images',
    auth: 'key',
    roles: IMAGE_ROLES,
    params: ImageParams,
    query: NoQuery,
    responses: { 204: { description: 'Deleted' } },
    errors: ['not_found'],
  },
  {
    method: 'post',
    path: '/v1/image/{id}/reprocess',
    operationId: 'reprocessImage',
    summary: 'Make the variants again (expired ones too) from the original',
    tag: 'images',
    auth: 'key',
    roles: IMAGE_ROLES,
    params: ImageParams,
    query: NoQuery,
    responses: { 202: { description: 'Queued again: the record', content: { 'application/json': ImageRecord }, headers: Location } },
    errors: ['not_found', 'too_many_requests'],
  },
  {
    method: 'post',
    path: '/v1/image/{id}/links',
    operationId: 'createImageLink',
    summary: 'A signed link to a render of the image, for pages to embed without a key',
    description:
      'The link is the render URL with `expires` (Unix seconds) and `sig` (HMAC-SHA256, base64url) added; anyone holding it may load it until it expires. ' +
      'A preset is resolved now: the link keeps its parameters as they are. Any change to the link answers 403, an expired one 410, a deleted image 404. ' +
      'Its answers carry Cache-Control: public, with max-age at most the link\'s remaining life.',
    tag: 'images',
    auth: 'key',
    roles: IMAGE_ROLES,
    params: ImageParams,
    query: NoQuery,
    body: { required: true, content: { 'application/json': NewLinkRequest } },
    responses: { 201: { description: 'The link and when it expires', content: { 'application/json': SignedLink } } },
    errors: ['not_found', 'payload_too_large'],
  },
  metadataRoute('/v1/image/metadata/{id}', 'getImageMetadata', 'An image\'s metadata'),
  metadataRoute('/v1/image/{id}/metadata', 'getImageMetadataByImage', 'An image\'s metadata (the same as /v1/image/metadata/{id})'),
  {
    method: 'get',
    path: '/v1/image/{id}/download',
    operationId: 'downloadImage',
    summary: 'Download a variant, or the original byte for byte',
    description:
      'Honours Range (one range), If-Range and If-None-Match. An uploaded SVG is sent as an attachment in a sandbox. ' +
      'An original downloads under its uploaded name, its format\'s extension added where missing; a camera RAW with its maker\'s ' +
      'media type (image/x-canon-cr2, …; image/x-raw where there is none); a variant as NAME-VARIANT.EXT. ' +
      'An original kept only in the S3 bucket streams from there (503 while the bucket is unreachable).',
    tag: 'images',
    auth: 'key',
    roles: IMAGE_ROLES,
    params: ImageParams,
    query: DownloadQuery,
    headers: z.object({
      Range: Text('One range of bytes, `bytes=START-END`').optional(),
      'If-Range': Text('An ETag: the Range applies only while the file is still this one').optional(),
      'If-None-Match': Text('An ETag this client holds: 304 while it still matches').optional(),
    }),
    responses: {
      200: { description: 'The whole file', content: { 'image/*': BINARY, 'application/octet-stream': BINARY }, headers: DownloadHeaders },
      206: {
        description: 'The range asked for',
        content: { 'image/*': BINARY, 'application/octet-stream': BINARY },
        headers: DownloadHeaders.extend({ 'Content-Range': Text('`bytes START-END/SIZE`') }),
      },
      304: { description: 'The client\'s copy is still this file', headers: z.object({ ETag: DownloadHeaders.shape.ETag, Expires: DownloadHeaders.shape.Expires }) },
    },
    errors: ['not_found', 'not_ready', 'expired', 'range_not_satisfiable'],
  },
  {
    method: 'get',
    path: '/v1/image/{id}/render',
    operationId: 'renderImage',
    summary: 'The image rendered on the fly from its original: resized, cropped, converted',
    description:
      'Renders from the original of any accepted image of the key\'s customer, whatever its processing status (docs/render.md). ' +
      'format=auto picks AVIF when Accept names image/avif, else WebP when it names image/webp, else PNG for a source with alpha and JPEG otherwise, and answers Vary: Accept. ' +
      'The result is stored as a processed file under --processed-ttl: a repeated request is served from it (Darkroom-Cache: hit) without decoding; ' +
      'identical requests that arrive together are rendered once. The ETag is known before rendering: If-None-Match is answered 304 without decoding. ' +
      'An output over --max-output-pixels (or the WebP and AVIF caps, or 8192 pixels a side once dpr multiplied w and h) is 400; an original that cannot be decoded, 422 corrupt_image; ' +
      'a full queue, 429; a render that waited --render-wait for a worker, 503. HEAD answers the same headers without the body. ' +
      'A signed link (POST /v1/image/{id}/links) is this URL with expires and sig: it needs no key, answers Cache-Control: public, and any change to it is 403, an expired one 410.',
    tag: 'images',
    auth: 'key-or-link',
    roles: IMAGE_ROLES,
    params: ImageParams,
    query: SignedRenderQuery,
    headers: z.object({
      Accept: Text('With format=auto: image/avif, image/webp or neither decides the format').optional(),
      'If-None-Match': Text('An ETag this client holds: 304 while it still names this render').optional(),
    }),
    responses: {
      200: {
        description: 'The rendered image',
        content: { 'image/webp': BINARY, 'image/avif': BINARY, 'image/jpeg': BINARY, 'image/png': BINARY },
        headers: RenderHeaders,
      },
      304: {
        description: 'The client\'s copy is still this render',
        headers: z.object({ ETag: RenderHeaders.shape.ETag, Vary: RenderHeaders.shape.Vary, 'Cache-Control': Text('For a signed link: public, max-age until the link expires').optional() }),
      },
    },
    errors: ['not_found', 'corrupt_image', 'no_preview', 'too_many_requests', 'unavailable', 'forbidden', 'expired'],
  },
  {
    method: 'post',
    path: '/v1/image/import',
    operationId: 'importImages',
    summary: 'Ingest files of this machine by path (admin key, loopback client)',
    tag: 'images',
    auth: 'key',
    roles: ADMIN,
    query: UploadQuery,
    body: { required: true, content: { 'application/json': ImportRequest } },
    responses: { 202: { description: 'Accepted: as POST /v1/image', content: { 'application/json': UploadResponse }, headers: Location } },
    errors: ['payload_too_large', 'unsupported_media_type', 'pixel_limit_exceeded', 'no_preview', 'too_many_requests', 'insufficient_storage', 'not_found'],
  },

  tusOptions('/v1/uploads', 'describeUploads'),
  tusOptions('/v1/uploads/{id}', 'describeUpload'),
  {
    method: 'post',
    path: '/v1/uploads',
    operationId: 'createUpload',
    summary: 'Start a resumable upload (with its first bytes, optionally)',
    tag: 'uploads',
    auth: 'key',
    roles: IMAGE_ROLES,
    query: NoQuery,
    headers: z.object({
      'Tus-Resumable': TusRequest.resumable,
      'Upload-Length': TusRequest.length,
      'Upload-Metadata': TusRequest.metadata.optional(),
    }),
    body: { required: false, content: { 'application/offset+octet-stream': BINARY } },
    responses: {
      201: {
        description: 'Created; Upload-Offset says how much of a body sent with it was stored. Darkroom-Image-Id when that completed the upload',
        headers: z.object({
          'Tus-Resumable': TusVersion,
          Location: Text('The upload\'s URL, for HEAD, PATCH and DELETE'),
          'Upload-Offset': Text('Bytes stored so far (with creation-with-upload)').optional(),
          'Darkroom-Image-Id': Text('The image id, once the upload is complete').optional(),
        }),
      },
    },
    errors: ['payload_too_large', 'unsupported_media_type', 'pixel_limit_exceeded', 'precondition_failed', 'not_implemented', 'too_many_requests', 'insufficient_storage', 'conflict'],
  },
  {
    method: 'head',
    path: '/v1/uploads/{id}',
    operationId: 'getUploadOffset',
    summary: 'Where a resumable upload stands',
    tag: 'uploads',
    auth: 'key',
    roles: IMAGE_ROLES,
    params: PathIdOfUpload,
    query: NoQuery,
    headers: z.object({ 'Tus-Resumable': TusRequest.resumable }),
    responses: {
      200: {
        description: 'Its offset and length; Darkroom-Image-Id once complete',
        headers: z.object({
          'Tus-Resumable': TusVersion,
          'Upload-Offset': Text('Bytes stored so far'),
          'Upload-Length': Text('The size of the whole file').optional(),
          'Upload-Metadata': Text('The metadata given at creation').optional(),
          'Cache-Control': Text('no-store'),
          'Darkroom-Image-Id': Text('The image id, once the upload is complete').optional(),
        }),
      },
    },
    errors: ['not_found', 'expired', 'precondition_failed', 'conflict'],
  },
  {
    method: 'patch',
    path: '/v1/uploads/{id}',
    operationId: 'appendUpload',
    summary: 'Send the next bytes of a resumable upload',
    tag: 'uploads',
    auth: 'key',
    roles: IMAGE_ROLES,
    params: PathIdOfUpload,
    query: NoQuery,
    // Its Content-Type, application/offset+octet-stream, is the body's media type below.
    headers: z.object({ 'Tus-Resumable': TusRequest.resumable, 'Upload-Offset': TusRequest.offset }),
    body: { required: true, content: { 'application/offset+octet-stream': BINARY } },
    responses: {
      204: {
        description: 'Stored; the part that completes the upload also carries Darkroom-Image-Id',
        headers: z.object({
          'Tus-Resumable': TusVersion,
          'Upload-Offset': Text('Bytes stored so far'),
          'Darkroom-Image-Id': Text('The image id, once the upload is complete').optional(),
        }),
      },
    },
    errors: ['not_found', 'expired', 'conflict', 'precondition_failed', 'payload_too_large', 'unsupported_media_type', 'pixel_limit_exceeded', 'no_preview', 'too_many_requests', 'insufficient_storage', 'request_timeout'],
  },
  {
    method: 'delete',
    path: '/v1/uploads/{id}',
    operationId: 'terminateUpload',
    summary: 'End a resumable upload and free what it stored',
    tag: 'uploads',
    auth: 'key',
    roles: IMAGE_ROLES,
    params: PathIdOfUpload,
    query: NoQuery,
    headers: z.object({ 'Tus-Resumable': TusRequest.resumable }),
    responses: { 204: { description: 'Ended (for a completed upload, only its record is forgotten: the image stays)', headers: TusHeaders } },
    errors: ['not_found', 'expired', 'conflict', 'precondition_failed'],
  },

  {
    method: 'get',
    path: '/v1/events',
    operationId: 'streamEvents',
    summary: 'Image status changes, as server-sent events',
    tag: 'events',
    auth: 'key',
    roles: IMAGE_ROLES,
    query: NoQuery,
    responses: {
      200: {
        description: 'The stream; it ends when the key is revoked or the server stops (EventSource reconnects)',
        content: { 'text/event-stream': SseEventStream },
        headers: z.object({ 'Cache-Control': Text('no-cache, no-transform') }),
      },
    },
    errors: ['too_many_requests'],
  },

  {
    method: 'get',
    path: '/v1/stats',
    operationId: 'getStats',
    summary: 'Statistics of a range of days, grouped',
    tag: 'statistics',
    auth: 'key',
    roles: STATS_ROLES,
    query: StatsQuery,
    responses: { 200: { description: 'The report', content: { 'application/json': StatsReport } } },
  },
  {
    method: 'get',
    path: '/v1/stats.csv',
    operationId: 'getStatsCsv',
    summary: 'The same groups as CSV, with a header row',
    tag: 'statistics',
    auth: 'key',
    roles: STATS_ROLES,
    query: StatsQuery,
    responses: {
      200: {
        description: 'CSV',
        content: { 'text/csv': BINARY },
        headers: z.object({ 'Content-Disposition': Text('attachment; darkroom-stats-FROM-to-TO.csv') }),
      },
    },
  },

  {
    method: 'post',
    path: '/v1/keys',
    operationId: 'createKey',
    summary: 'Create a key (shown once)',
    tag: 'keys',
    auth: 'key',
    roles: ADMIN,
    query: NoQuery,
    body: { required: true, content: { 'application/json': NewKeyRequest } },
    responses: { 201: { description: 'The key, with its plain value this once', content: { 'application/json': CreatedKey }, headers: Location } },
    errors: ['payload_too_large'],
  },
  {
    method: 'get',
    path: '/v1/keys',
    operationId: 'listKeys',
    summary: 'Every key (never the key itself)',
    tag: 'keys',
    auth: 'key',
    roles: ADMIN,
    query: NoQuery,
    responses: { 200: { description: 'The keys', content: { 'application/json': KeyList } } },
  },
  {
    method: 'delete',
    path: '/v1/keys/{id}',
    operationId: 'revokeKey',
    summary: 'Revoke a key; its open event streams end',
    tag: 'keys',
    auth: 'key',
    roles: ADMIN,
    params: IdParams,
    query: NoQuery,
    responses: { 204: { description: 'Revoked' } },
    errors: ['not_found'],
  },

  {
    method: 'get',
    path: '/v1/me',
    operationId: 'getMe',
    summary: 'Who this key is, and the upload limits',
    tag: 'session',
    auth: 'key',
    query: NoQuery,
    responses: { 200: { description: 'The key\'s customer and role, and the limits', content: { 'application/json': Me } } },
  },

  {
    method: 'get',
    path: '/v1/watch',
    operationId: 'listWatchFolders',
    summary: 'Watch folders with their counts',
    tag: 'watch',
    auth: 'key',
    roles: ADMIN,
    query: NoQuery,
    responses: { 200: { description: 'The folders', content: { 'application/json': WatchFolderList } } },
  },
  {
    method: 'get',
    path: '/v1/watch/{id}',
    operationId: 'getWatchFolder',
    summary: 'One watch folder',
    tag: 'watch',
    auth: 'key',
    roles: ADMIN,
    params: IdParams,
    query: NoQuery,
    responses: { 200: { description: 'The folder', content: { 'application/json': WatchFolder } } },
    errors: ['not_found'],
  },
  {
    method: 'post',
    path: '/v1/watch',
    operationId: 'addWatchFolder',
    summary: 'Watch a folder of this machine (admin key, loopback client)',
    tag: 'watch',
    auth: 'key',
    roles: ADMIN,
    query: NoQuery,
    body: { required: true, content: { 'application/json': NewWatchFolderRequest } },
    responses: {
      200: { description: 'Already watched: the folder', content: { 'application/json': WatchFolder }, headers: Location },
      201: { description: 'Now watched', content: { 'application/json': WatchFolder }, headers: Location },
    },
    errors: ['payload_too_large'],
  },
  {
    method: 'delete',
    path: '/v1/watch/{id}',
    operationId: 'removeWatchFolder',
    summary: 'Stop watching a folder (admin key, loopback client)',
    tag: 'watch',
    auth: 'key',
    roles: ADMIN,
    params: IdParams,
    query: NoQuery,
    responses: { 204: { description: 'No longer watched' } },
    errors: ['not_found'],
  },

  {
    method: 'get',
    path: '/v1/sync',
    operationId: 'getSyncStatus',
    summary: 'S3 sync: backlog, transfers, failures',
    tag: 'sync',
    auth: 'key',
    roles: ADMIN,
    query: NoQuery,
    responses: { 200: { description: 'The status; `{enabled: false}` without --s3-bucket', content: { 'application/json': SyncStatus } } },
  },
  {
    method: 'post',
    path: '/v1/sync/retry',
    operationId: 'retrySync',
    summary: 'Queue the failed sync operations again',
    tag: 'sync',
    auth: 'key',
    roles: ADMIN,
    query: NoQuery,
    responses: { 202: { description: 'Queued', content: { 'application/json': SyncRetryResponse } } },
  },

  {
    method: 'post',
    path: '/v1/webhooks',
    operationId: 'createWebhook',
    summary: 'Register a webhook endpoint (its secret is shown once)',
    description: 'The endpoint receives the events it subscribes to of the key\'s customer only, signed per Standard Webhooks. A customer has at most 20 endpoints (400 beyond).',
    tag: 'webhooks',
    auth: 'key',
    roles: WEBHOOK_ROLES,
    query: NoQuery,
    body: { required: true, content: { 'application/json': NewWebhookRequest } },
    responses: { 201: { description: 'The endpoint, with its secret this once', content: { 'application/json': CreatedWebhook }, headers: Location } },
    errors: ['payload_too_large'],
  },
  {
    method: 'get',
    path: '/v1/webhooks',
    operationId: 'listWebhooks',
    summary: 'The customer\'s webhook endpoints (never their secrets)',
    tag: 'webhooks',
    auth: 'key',
    roles: WEBHOOK_ROLES,
    query: NoQuery,
    responses: { 200: { description: 'The endpoints, oldest first', content: { 'application/json': WebhookList } } },
  },
  {
    method: 'get',
    path: '/v1/webhooks/{id}',
    operationId: 'getWebhook',
    summary: 'One webhook endpoint',
    tag: 'webhooks',
    auth: 'key',
    roles: WEBHOOK_ROLES,
    params: WebhookParams,
    query: NoQuery,
    responses: { 200: { description: 'The endpoint', content: { 'application/json': WebhookEndpoint } } },
    errors: ['not_found'],
  },
  {
    method: 'patch',
    path: '/v1/webhooks/{id}',
    operationId: 'updateWebhook',
    summary: 'Change a webhook endpoint\'s URL, events, description, or enable/disable it',
    tag: 'webhooks',
    auth: 'key',
    roles: WEBHOOK_ROLES,
    params: WebhookParams,
    query: NoQuery,
    body: { required: true, content: { 'application/json': WebhookUpdate } },
    responses: { 200: { description: 'The endpoint as changed', content: { 'application/json': WebhookEndpoint } } },
    errors: ['not_found', 'payload_too_large'],
  },
  {
    method: 'delete',
    path: '/v1/webhooks/{id}',
    operationId: 'deleteWebhook',
    summary: 'Remove a webhook endpoint and its deliveries',
    tag: 'webhooks',
    auth: 'key',
    roles: WEBHOOK_ROLES,
    params: WebhookParams,
    query: NoQuery,
    responses: { 204: { description: 'Removed' } },
    errors: ['not_found'],
  },
  {
    method: 'post',
    path: '/v1/webhooks/{id}/test',
    operationId: 'testWebhook',
    summary: 'Send the endpoint a `webhook.test` message',
    description: 'At most 10 test messages may be pending per endpoint: another one is 429 until they are delivered or failed.',
    tag: 'webhooks',
    auth: 'key',
    roles: WEBHOOK_ROLES,
    params: WebhookParams,
    query: NoQuery,
    responses: { 202: { description: 'Queued: the message and its delivery', content: { 'application/json': WebhookTestResponse } } },
    errors: ['not_found'],
  },
  {
    method: 'post',
    path: '/v1/webhooks/{id}/rotate-secret',
    operationId: 'rotateWebhookSecret',
    summary: 'A new signing secret (shown once); the previous one keeps signing for 24 h',
    description: 'For 24 hours every message carries two signatures, space-separated in webhook-signature: with the new secret and the previous one.',
    tag: 'webhooks',
    auth: 'key',
    roles: WEBHOOK_ROLES,
    params: WebhookParams,
    query: NoQuery,
    responses: { 200: { description: 'The new secret, this once', content: { 'application/json': RotatedSecret } } },
    errors: ['not_found'],
  },
  {
    method: 'get',
    path: '/v1/webhooks/{id}/deliveries',
    operationId: 'listWebhookDeliveries',
    summary: 'The endpoint\'s deliveries, newest first',
    tag: 'webhooks',
    auth: 'key',
    roles: WEBHOOK_ROLES,
    params: WebhookParams,
    query: ListDeliveriesQuery,
    responses: { 200: { description: 'One page of deliveries', content: { 'application/json': WebhookDeliveryPage } } },
    errors: ['not_found'],
  },
  {
    method: 'post',
    path: '/v1/webhooks/{id}/deliveries/{deliveryId}/retry',
    operationId: 'retryWebhookDelivery',
    summary: 'Send a delivery again now',
    description: 'A delivered or failed delivery starts over with the whole retry schedule; a pending one is tried now.',
    tag: 'webhooks',
    auth: 'key',
    roles: WEBHOOK_ROLES,
    params: DeliveryParams,
    query: NoQuery,
    responses: { 202: { description: 'Queued: the delivery', content: { 'application/json': WebhookDelivery } } },
    errors: ['not_found'],
  },

  {
    method: 'get',
    path: '/v1/nodes',
    operationId: 'listNodes',
    summary: 'The nodes sharing this database: version, started, jobs running, last heartbeat, state',
    description:
      'Every server process on the same database is a node (one with SQLite; any number on PostgreSQL). ' +
      'A node writes a heartbeat every 5 s; one neither stopped cleanly nor heard from for 15 s is unreachable. ' +
      'Nodes not heard from for 7 days are forgotten at the next start of any node.',
    tag: 'nodes',
    auth: 'key',
    roles: ADMIN,
    query: NoQuery,
    responses: { 200: { description: 'The nodes', content: { 'application/json': NodeList } } },
  },

  {
    method: 'get',
    path: '/v1/presets',
    operationId: 'listPresets',
    summary: 'Every preset, by name',
    tag: 'presets',
    auth: 'key',
    roles: ADMIN,
    query: NoQuery,
    responses: { 200: { description: 'The presets', content: { 'application/json': PresetList } } },
  },
  {
    method: 'put',
    path: '/v1/presets/{name}',
    operationId: 'putPreset',
    summary: 'Create a preset or replace its parameters',
    description:
      'The values are judged as render judges the same parameters, output caps included (400 naming the problem). ' +
      'A render naming the preset uses it as it is then; an upload variant and a signed link keep what it was when they were made.',
    tag: 'presets',
    auth: 'key',
    roles: ADMIN,
    params: PresetParamsPath,
    query: NoQuery,
    body: { required: true, content: { 'application/json': PresetValues } },
    responses: { 200: { description: 'The preset as stored', content: { 'application/json': Preset } } },
    errors: ['payload_too_large'],
  },
  {
    method: 'delete',
    path: '/v1/presets/{name}',
    operationId: 'deletePreset',
    summary: 'Remove a preset (variants and links made with it keep their parameters)',
    tag: 'presets',
    auth: 'key',
    roles: ADMIN,
    params: PresetParamsPath,
    query: NoQuery,
    responses: { 204: { description: 'Removed' } },
    errors: ['not_found'],
  },

  {
    method: 'get',
    path: '/v1/openapi.json',
    operationId: 'getOpenApiDocument',
    summary: 'This description (OpenAPI 3.1)',
    tag: 'operations',
    auth: 'none',
    query: NoQuery,
    headers: z.object({ 'If-None-Match': Text('The ETag of a copy this client holds').optional() }),
    responses: {
      200: { description: 'The document', content: { 'application/json': z.record(z.string(), z.unknown()) }, headers: z.object({ ETag: Text('Strong validator of the document') }) },
      304: { description: 'The client\'s copy is current', headers: z.object({ ETag: Text('Strong validator of the document') }) },
    },
  },
  {
    method: 'get',
    path: '/healthz',
    operationId: 'getHealth',
    summary: 'The process answers',
    tag: 'operations',
    auth: 'none',
    responses: { 200: { description: 'Alive', content: { 'application/json': Health } } },
  },
  {
    method: 'get',
    path: '/readyz',
    operationId: 'getReadiness',
    summary: 'Database, workers and disk are usable',
    tag: 'operations',
    auth: 'none',
    responses: {
      200: { description: 'Ready', content: { 'application/json': Readiness } },
      503: { description: 'Not ready: the same body, naming the check that failed', content: { 'application/json': Readiness } },
    },
  },
  {
    method: 'get',
    path: '/metrics',
    operationId: 'getMetrics',
    summary: 'Prometheus metrics',
    tag: 'operations',
    auth: 'none',
    responses: { 200: { description: 'Prometheus text format', content: { 'text/plain': BINARY } } },
  },
];

/**
 * The error codes a route can answer with: those of its own, and those every route of its kind
 * can (the Host check, a failure, an outage; with a key: no key, rate limit, a bad parameter;
 * with roles: the wrong role). Sorted, so the document does not depend on how a route lists them.
 */
export function errorsOf(route: ApiRoute): ErrorCode[] {
  const codes = new Set<ErrorCode>(['misdirected_request', 'internal_error', 'unavailable', 'headers_too_large', 'expectation_failed', ...(route.errors ?? [])]);
  if (route.auth !== 'none') for (const c of ['unauthorized', 'too_many_requests', 'invalid_request'] as const) codes.add(c);
  if (route.query || route.params || route.body) codes.add('invalid_request');
  // A body has until --headers-timeout to arrive (http/connection/body-deadline.ts).
  if (route.body) codes.add('request_timeout');
  if (route.roles) codes.add('forbidden');
  return [...codes].sort();
}

/**
 * Error codes grouped by their status, statuses ascending; a status the route answers with a
 * body of its own (`/readyz`'s 503) is that answer, not an error.
 */
export function errorStatusesOf(route: ApiRoute): Array<[status: number, codes: ErrorCode[]]> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of errorsOf(route)) {
    const status = ERROR_CATALOGUE[code].status;
    if (route.responses[status]) continue;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  return [...byStatus].sort((a, b) => a[0] - b[0]);
}
