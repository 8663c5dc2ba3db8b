import { Router } from 'express';
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
} from '../../api/index.js';
import type { WebhooksService } from '../../services/webhooks/webhooks.service.js';
import { answer } from '../answer.js';
import { ROLE_RULES, principalOf, requireRole } from '../middleware/auth.js';
import { jsonBody, noQuery, parseBody, parseParams, parseQuery } from '../validate.js';

/** Webhook endpoints of the key's customer (CONTRACT §11): roles user and admin. */
export function webhooksRouter(webhooks: WebhooksService): Router {
  const router = Router();
  const allowed = requireRole(...ROLE_RULES.webhooks);

  router.post('/webhooks', allowed, noQuery, jsonBody, async (req, res) => {
    const created = await webhooks.create(principalOf(res), parseBody(NewWebhookRequest, req.body ?? {}));
    answer(res.location(`/v1/webhooks/${created.id}`), CreatedWebhook, created, 201);
  });

  router.get('/webhooks', allowed, noQuery, async (_req, res) => {
    answer(res, WebhookList, { items: await webhooks.list(principalOf(res)) });
  });

  router.get('/webhooks/:id', allowed, noQuery, async (req, res) => {
    answer(res, WebhookEndpoint, await webhooks.get(principalOf(res), parseParams(WebhookParams, req.params).id));
  });

  router.patch('/webhooks/:id', allowed, noQuery, jsonBody, async (req, res) => {
    const { id } = parseParams(WebhookParams, req.params);
    answer(res, WebhookEndpoint, await webhooks.update(principalOf(res), id, parseBody(WebhookUpdate, req.body ?? {})));
  });

  router.delete('/webhooks/:id', allowed, noQuery, async (req, res) => {
    await webhooks.remove(principalOf(res), parseParams(WebhookParams, req.params).id);
    res.status(204).end();
  });

  router.post('/webhooks/:id/test', allowed, noQuery, async (req, res) => {
    answer(res, WebhookTestResponse, await webhooks.test(principalOf(res), parseParams(WebhookParams, req.params).id), 202);
  });

  router.post('/webhooks/:id/rotate-secret', allowed, noQuery, async (req, res) => {
    answer(res, RotatedSecret, await webhooks.rotateSecret(principalOf(res), parseParams(WebhookParams, req.params).id));
  });

  router.get('/webhooks/:id/deliveries', allowed, async (req, res) => {
    const { id } = parseParams(WebhookParams, req.params);
    answer(res, WebhookDeliveryPage, await webhooks.deliveries(principalOf(res), id, parseQuery(ListDeliveriesQuery, req.query)));
  });

  router.post('/webhooks/:id/deliveries/:deliveryId/retry', allowed, noQuery, async (req, res) => {
    const { id, deliveryId } = parseParams(DeliveryParams, req.params);
    answer(res, WebhookDelivery, await webhooks.retry(principalOf(res), id, deliveryId), 202);
  });

  return router;
}
