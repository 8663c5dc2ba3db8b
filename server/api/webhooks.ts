import { z } from 'zod';
import { PathId, Timestamp } from './common.js';
import { ImageRecord } from './images.js';

/** The events an endpoint can subscribe to (CONTRACT §11); `*` takes them all. */
export const WEBHOOK_EVENTS = ['image.processed', 'image.failed', 'image.deleted', 'image.expired'] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENTS)[number];
/** What `POST /v1/webhooks/{id}/test` sends; not subscribable. */
export const WEBHOOK_TEST_EVENT = 'webhook.test' as const;

export const WebhookEventName = z.enum([...WEBHOOK_EVENTS, '*']).meta({ description: 'An event, or `*` for every event' });

const WebhookUrl = z
  .string()
  .max(2048)
  .meta({
    description:
      'Where messages are POSTed: http or https, without a user name or password. A host that is or resolves to a loopback, ' +
      'private, link-local, unique-local or CGNAT address is refused (unless the server runs with --webhook-allow-private)',
  });
const WebhookEvents = z.array(WebhookEventName).min(1).max(10).meta({ description: 'The events to receive; `["*"]` for all' });

/** `POST /v1/webhooks` */
export const NewWebhookRequest = z
  .strictObject({
    url: WebhookUrl,
    events: WebhookEvents,
    description: z.string().trim().max(200).optional().meta({ description: 'A label to recognise the endpoint by' }),
  })
  .meta({ id: 'NewWebhookRequest' });
export type NewWebhookRequest = z.infer<typeof NewWebhookRequest>;

/** `PATCH /v1/webhooks/{id}`: the fields given change, the others stay. */
export const WebhookUpdate = z
  .strictObject({
    url: WebhookUrl.optional(),
    events: WebhookEvents.optional(),
    description: z.string().trim().max(200).nullable().optional().meta({ description: 'A label; null removes it' }),
    enabled: z.boolean().optional().meta({ description: 'False stops deliveries (pending ones fail); true resumes' }),
  })
  .meta({ id: 'WebhookUpdate' });
export type WebhookUpdate = z.infer<typeof WebhookUpdate>;

/** An endpoint as listed: never its secret. */
export const WebhookEndpoint = z
  .strictObject({
    id: z.string(),
    url: z.string(),
    events: z.array(WebhookEventName),
    description: z.string().nullable(),
    enabled: z.boolean(),
    disabledReason: z.string().nullable().meta({ description: 'Why it was disabled (by its owner, or because it answered 410 Gone)' }),
    createdAt: Timestamp,
    backlog: z.number().int().min(0).meta({ description: 'Deliveries still pending' }),
  })
  .meta({ id: 'WebhookEndpoint' });
export type WebhookEndpoint = z.infer<typeof WebhookEndpoint>;

const Secret = z.string().regex(/^whsec_[A-Za-z0-9+/]+=*$/).meta({ description: 'The signing secret, `whsec_` + base64; shown once, never again' });

/** `POST /v1/webhooks` → 201: the endpoint with its secret, this once. */
export const CreatedWebhook = WebhookEndpoint.extend({ secret: Secret }).meta({ id: 'CreatedWebhook' });
export type CreatedWebhook = z.infer<typeof CreatedWebhook>;

/** `GET /v1/webhooks` */
export const WebhookList = z.strictObject({ items: z.array(WebhookEndpoint) });
export type WebhookList = z.infer<typeof WebhookList>;

/** `POST /v1/webhooks/{id}/rotate-secret` */
export const RotatedSecret = z
  .strictObject({
    id: z.string(),
    secret: Secret,
    previousSecretExpiresAt: Timestamp.meta({ description: 'Until then every message carries a signature with the previous secret as well' }),
  })
  .meta({ id: 'RotatedSecret' });
export type RotatedSecret = z.infer<typeof RotatedSecret>;

export const DELIVERY_STATUSES = ['pending', 'delivered', 'failed'] as const;

/** One message to one endpoint, with where its delivery stands. */
export const WebhookDelivery = z
  .strictObject({
    id: z.string(),
    messageId: z.string().meta({ description: 'The message, sent as `webhook-id`: the same on every attempt' }),
    event: z.string().meta({ description: 'The message\'s `type`' }),
    status: z.enum(DELIVERY_STATUSES),
    attempts: z.number().int().min(0),
    lastStatus: z.number().int().nullable().meta({ description: 'The HTTP status of the last answer; null before one, or when there was none (time-out, refused)' }),
    lastError: z.string().nullable(),
    nextAttemptAt: Timestamp.nullable().meta({ description: 'When it is tried next, while pending' }),
    deliveredAt: Timestamp.nullable(),
    createdAt: Timestamp,
  })
  .meta({ id: 'WebhookDelivery' });
export type WebhookDelivery = z.infer<typeof WebhookDelivery>;

export const WebhookDeliveryPage = z
  .strictObject({
    items: z.array(WebhookDelivery),
    nextCursor: z.string().nullable().meta({ description: 'Pass as `cursor` for the next page; null on the last one' }),
  })
  .meta({ id: 'WebhookDeliveryPage' });
export type WebhookDeliveryPage = z.infer<typeof WebhookDeliveryPage>;

/** `GET /v1/webhooks/{id}/deliveries` */
export const ListDeliveriesQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(500).default(50).meta({ description: 'Deliveries per page, newest first' }),
  cursor: z.string().max(512).optional().meta({ description: 'The `nextCursor` of the previous page' }),
});
export type ListDeliveriesQuery = z.infer<typeof ListDeliveriesQuery>;

export const WebhookParams = z.strictObject({ id: PathId.meta({ description: 'The endpoint id' }) });
export const DeliveryParams = z.strictObject({
  id: PathId.meta({ description: 'The endpoint id' }),
  deliveryId: PathId.meta({ description: 'The delivery id' }),
});

/** `POST /v1/webhooks/{id}/test` → 202 */
export const WebhookTestResponse = z
  .strictObject({ messageId: z.string(), deliveryId: z.string() })
  .meta({ id: 'WebhookTestResponse' });
export type WebhookTestResponse = z.infer<typeof WebhookTestResponse>;

// ---------------------------------------------------------------------------------------------
// The messages themselves: the bodies POSTed to endpoints (the document's `webhooks` section).

const envelope = <T extends string, D extends z.ZodType>(type: T, data: D, id: string, description: string) =>
  z
    .strictObject({
      type: z.literal(type),
      timestamp: Timestamp.meta({ description: 'When the event happened' }),
      data,
    })
    .meta({ id, description });

export const ImageProcessedMessage = envelope('image.processed', ImageRecord, 'ImageProcessedMessage', 'An image finished processing: its record');
export const ImageFailedMessage = envelope('image.failed', ImageRecord, 'ImageFailedMessage', 'An image\'s processing failed for good: its record, `error` set');
export const ImageDeletedMessage = envelope(
  'image.deleted',
  z.strictObject({ id: z.string() }),
  'ImageDeletedMessage',
  'An image was deleted: its id',
);
export const ImageExpiredMessage = envelope(
  'image.expired',
  ImageRecord,
  'ImageExpiredMessage',
  'An image\'s processed files passed --processed-ttl and were removed (its last processed variant expired): its record',
);
export const WebhookTestMessage = envelope(
  'webhook.test',
  z.strictObject({ endpointId: z.string() }),
  'WebhookTestMessage',
  'Sent by POST /v1/webhooks/{id}/test',
);

/** Headers of every message (Standard Webhooks). */
export const WebhookMessageHeaders = z.object({
  'webhook-id': z.string().meta({ description: 'The message id: the same on every retry; use it to ignore a message received twice' }),
  'webhook-timestamp': z.string().meta({ description: 'Unix seconds when this attempt was signed' }),
  'webhook-signature': z.string().meta({
    description: '`v1,` + base64(HMAC-SHA256(secret bytes, `{webhook-id}.{webhook-timestamp}.{body}`)); two, space-separated, for 24 h after a rotation',
  }),
});
