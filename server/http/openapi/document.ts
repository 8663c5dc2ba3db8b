import crypto from 'node:crypto';
import { z } from 'zod';
import { createDocument, type ZodOpenApiOperationObject, type ZodOpenApiPathsObject, type ZodOpenApiResponseObject, type ZodOpenApiResponsesObject } from 'zod-openapi';
import {
  BINARY,
  ERROR_CATALOGUE,
  ErrorBody,
  ImageDeletedMessage,
  ImageExpiredMessage,
  ImageFailedMessage,
  ImageProcessedMessage,
  ImageStatusEvent,
  ROUTES,
  TAGS,
  WebhookMessageHeaders,
  WebhookTestMessage,
  errorStatusesOf,
  type ApiResponse,
  type ApiRoute,
} from '../../api/index.js';
import { packageVersion } from '../../util/package-version.js';

/** The document's JSON text and its strong ETag (a hash of the text). */
export interface OpenApiDocument {
  document: OpenApiObject;
  text: string;
  etag: string;
}

/** The parts of an OpenAPI document its readers here need (the whole is JSON). */
export interface OpenApiObject {
  openapi: string;
  paths: Record<string, Record<string, OperationObject>>;
  components: { schemas: Record<string, unknown> };
  [key: string]: unknown;
}

export interface OperationObject {
  operationId: string;
  responses: Record<string, { content?: Record<string, { schema?: unknown }>; headers?: Record<string, { required?: boolean }> }>;
  [key: string]: unknown;
}

const SECURITY: Array<Record<string, string[]>> = [{ bearer: [] }, { apiKey: [] }];

/**
 * Builds the OpenAPI 3.1 document from the route table (server/api/routes.ts) with zod-openapi,
 * which renders the same zod schemas that validate requests and shape answers. Deterministic:
 * the table's order is kept where it means something (paths in the order a reader meets them),
 * and every object the generator or a route may order differently is sorted, so the same build
 * gives the same bytes, and so the same ETag on every node.
 */
export function buildOpenApiDocument(version = packageVersion()): OpenApiDocument {
  const paths: ZodOpenApiPathsObject = {};
  const errorResponses: Record<string, ZodOpenApiResponseObject> = {};
  for (const route of ROUTES) {
    (paths[route.path] ??= {})[route.method] = operationOf(route, errorResponses);
  }
  const document = createDocument(
    {
      openapi: '3.1.0',
      info: {
        title: 'Darkroom',
        version,
        description:
          'A self-hosted image processing engine: upload, process, download, metadata, statistics. Every `/v1` request ' +
          'carries an API key (`Authorization: Bearer KEY` or `X-Api-Key: KEY`) unless its operation says otherwise. ' +
          'Errors are always `{"error": {code, message, requestId}}`; clients branch on `code`.',
        license: { name: 'MIT', identifier: 'MIT' },
      },
      tags: Object.entries(TAGS).map(([name, description]) => ({ name, description })),
      security: SECURITY,
      paths,
      webhooks: webhookMessages(),
      components: {
        schemas: { ErrorBody, ImageStatusEvent },
        responses: errorResponses,
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'An API key: `Authorization: Bearer KEY`' },
          apiKey: { type: 'apiKey', in: 'header', name: 'X-Api-Key', description: 'The same key in its own header' },
        },
      },
    },
  ) as unknown as OpenApiObject;
  const sorted = sortKeys(document, []) as OpenApiObject;
  const text = `${JSON.stringify(sorted, null, 2)}\n`;
  const etag = `"${crypto.createHash('sha256').update(text).digest('base64url').slice(0, 27)}"`;
  return { document: sorted, text, etag };
}

function operationOf(route: ApiRoute, errorResponses: Record<string, ZodOpenApiResponseObject>): ZodOpenApiOperationObject {
  const responses: ZodOpenApiResponsesObject = {};
  for (const [status, response] of Object.entries(route.responses)) responses[`${status}` as `2${string}`] = responseOf(response);
  for (const [status, codes] of errorStatusesOf(route)) {
    // Error answers are shared components (one per set of codes): most routes answer the same ones.
    const name = codes.join('.');
    errorResponses[name] ??= {
      description: codes.map((c) => `\`${c}\`: ${ERROR_CATALOGUE[c].description}`).join('; '),
      content: { 'application/json': { schema: errorBodyOf(codes) } },
      headers: errorHeadersOf(codes),
    };
    responses[`${status}` as `4${string}`] = { $ref: `#/components/responses/${name}` };
  }
  const roles = route.roles ? `Roles: ${route.roles.join(', ')}.` : undefined;
  return {
    operationId: route.operationId,
    summary: route.summary,
    description: [route.description, roles].filter(Boolean).join('\n\n') || undefined,
    tags: [route.tag],
    // No key: an empty requirement says so explicitly instead of inheriting the document's.
    // A signed link's request carries no key: the empty requirement says a key is optional there.
    security: route.auth === 'none' ? [] : route.auth === 'key-or-link' ? [...SECURITY, {}] : SECURITY,
    requestParams: definedOnly({ path: route.params, query: route.query, header: route.headers }),
    requestBody: route.body && {
      required: route.body.required,
      content: Object.fromEntries(Object.entries(route.body.content).map(([type, schema]) => [type, { schema: schemaOf(schema) }])),
    },
    responses,
  };
}

/**
 * The messages Darkroom POSTs to webhook endpoints (CONTRACT §11), as OpenAPI 3.1 `webhooks`:
 * one per event, its body and its Standard Webhooks headers.
 */
function webhookMessages(): ZodOpenApiPathsObject {
  const messages = [
    ['image.processed', ImageProcessedMessage, 'An image finished processing'],
    ['image.failed', ImageFailedMessage, 'An image\'s processing failed for good'],
    ['image.deleted', ImageDeletedMessage, 'An image was deleted'],
    ['image.expired', ImageExpiredMessage, 'An image\'s processed files expired'],
    ['webhook.test', WebhookTestMessage, 'The test message (POST /v1/webhooks/{id}/test)'],
  ] as const;
  return Object.fromEntries(
    messages.map(([event, schema, summary]) => [
      event,
      {
        post: {
          operationId: `webhook_${event.replace('.', '_')}`,
          summary,
          description:
            'POSTed as JSON to each enabled endpoint of the customer that subscribes to it, signed per Standard Webhooks. Any 2xx answer ' +
            'within --webhook-timeout delivers it; 410 disables the endpoint; anything else is retried with --webhook-retry-schedule.',
          tags: ['webhooks'],
          requestParams: { header: WebhookMessageHeaders },
          requestBody: { required: true, content: { 'application/json': { schema } } },
          responses: { 200: { description: 'Delivered (any 2xx)' }, 410: { description: 'Gone: the endpoint is disabled' } },
        },
      },
    ]),
  );
}

/** zod-openapi reads every key it is given, so an absent part must be left out, not undefined. */
function definedOnly<T extends object>(parts: T): Partial<T> {
  return Object.fromEntries(Object.entries(parts).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function responseOf(response: ApiResponse) {
  return {
    description: response.description,
    ...definedOnly({ headers: response.headers }),
    content: response.content && Object.fromEntries(Object.entries(response.content).map(([type, schema]) => [type, { schema: schemaOf(schema) }])),
  };
}

// Bytes of the media type the content map names (OpenAPI 3.0's spelling, which 3.1 readers and client generators still take).
const Binary = z.string().meta({ format: 'binary' });
const schemaOf = (schema: z.ZodType | typeof BINARY) => (schema === BINARY ? Binary : schema);

/** The error body with `code` narrowed to the codes this status can carry on this route. */
function errorBodyOf(codes: string[]) {
  return z.unknown().meta({
    override: { allOf: [{ $ref: '#/components/schemas/ErrorBody' }, { type: 'object', properties: { error: { type: 'object', properties: { code: { enum: codes } } } } }] },
  });
}

function errorHeadersOf(codes: string[]) {
  const headers: Record<string, z.ZodType> = { 'X-Request-Id': z.string().meta({ description: 'The request id, as in the body' }) };
  if (codes.some((c) => c === 'too_many_requests' || c === 'unavailable')) headers['Retry-After'] = z.string().optional().meta({ description: 'Seconds to wait before trying again' });
  if (codes.includes('range_not_satisfiable')) headers['Content-Range'] = z.string().meta({ description: '`bytes */SIZE`: the size of the file' });
  return z.object(headers);
}

// Arrays whose order means something (parameters, tags, enums, required lists, allOf, security)
// keep it; object keys are sorted except under `paths` (kept in the table's reading order) and
// response/property maps where the generator already follows the table and the schemas.
function sortKeys(value: unknown, trail: string[]): unknown {
  if (Array.isArray(value)) return value.map((v) => sortKeys(v, trail));
  if (!value || typeof value !== 'object') return value;
  const parent = trail[trail.length - 1];
  const entries = Object.entries(value);
  const ordered = parent === 'paths' || parent === 'properties' ? entries : entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return Object.fromEntries(ordered.map(([k, v]) => [k, sortKeys(v, [...trail, k])]));
}

let built: OpenApiDocument | undefined;

/** The document of this build: made once per process (every server of a test process shares it). */
export function openApiDocument(): OpenApiDocument {
  return (built ??= buildOpenApiDocument());
}
