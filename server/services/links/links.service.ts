import ms from 'ms';
import { DEFAULT_LINK_LIFE, MAX_LINK_LIFE, RenderQuery, type NewLinkRequest, type SignedLink } from '../../api/index.js';
import { AppError } from '../../errors.js';
import type { Clock } from '../../util/clock.js';
import type { Principal } from '../keys.service.js';
import type { PresetsService } from '../presets.service.js';
import { canonicalQuery, renderPath, signLink, verifyLink } from './link-signature.js';

/** Parameters a link sets itself: never a render parameter given in `params`. */
const LINK_PARAMETERS = ['expires', 'sig'] as const;
const MAX_LIFE_MS = ms(MAX_LINK_LIFE);

/** The keys links are signed with: the first signs, all verify. */
export interface LinkKeys {
  signing: string;
  verifying: readonly string[];
}

export interface LinksServiceDeps {
  /** The image as the caller may see it (another customer's: 404). */
  visible(principal: Principal, id: string): Promise<{ id: string; customer: string }>;
  /** Any image by id, whoever owns it: a link is checked before anyone is known. */
  findImage(id: string): Promise<{ id: string; customer: string } | undefined>;
  presets: Pick<PresetsService, 'resolve'>;
  /**
   * Render's own judgement of these parameters for this image, without rendering (400 naming
   * the problem), so a link is never handed out for a render that would be refused.
   */
  checkRender(principal: Principal, id: string, params: Omit<RenderQuery, 'preset'>, accept: string | undefined): Promise<void>;
  keys: LinkKeys;
  clock: Clock;
}

/** What a verified link lets through: the image's owner as the principal, until when, and the render parameters it carries. */
export interface VerifiedLink {
  principal: Principal;
  imageId: string;
  /** When the link stops working (ms). */
  expiresAt: number;
  /** The link's render parameters (its query without `expires` and `sig`). */
  query: Record<string, string>;
}

export type LinksService = ReturnType<typeof createLinksService>;

/** The principal a link renders as: the image's customer, with a key id no key has (--rate-limit counts links per client address: http/middleware/rate-limit.ts). */
export const linkPrincipal = (imageId: string, customer: string): Principal => ({ keyId: `link:${imageId}`, customer, role: 'user' });

export function createLinksService(deps: LinksServiceDeps) {
  const { clock, keys } = deps;

  function lifeOf(expiresIn: string | undefined): number {
    const life = ms((expiresIn ?? DEFAULT_LINK_LIFE) as ms.StringValue);
    if (life > MAX_LIFE_MS) throw new AppError('invalid_request', `expiresIn: ${expiresIn} is longer than the longest life of a link, ${MAX_LINK_LIFE}`);
    return life;
  }

  return {
    /**
     * A signed link to a render of the image (CONTRACT §10). A preset is resolved now: the link
     * carries its parameters as they are, so changing or deleting the preset later does not
     * change or break links already given out.
     */
    async create(principal: Principal, id: string, request: NewLinkRequest, origin: string): Promise<SignedLink> {
      const image = await deps.visible(principal, id);
      const life = lifeOf(request.expiresIn);
      const query: Record<string, string> = {};
      if (request.preset) {
        for (const [k, v] of Object.entries(await deps.presets.resolve(request.preset))) if (v !== undefined) query[k] = String(v);
      }
      for (const [k, v] of Object.entries(request.params ?? {})) {
        if ((LINK_PARAMETERS as readonly string[]).includes(k) || k === 'preset') {
          throw new AppError('invalid_request', `params.${k}: not a render parameter a link may set${k === 'preset' ? ' (give the preset as "preset" beside "params")' : ''}`);
        }
        query[k] = String(v);
      }
      // Judged as render judges it: each parameter (RenderQuery), then together and against the
      // image's size. `auto` is judged as AVIF, the format with the lowest cap a browser may get
      // it as, so no visitor's Accept makes the link a 400.
      const parsed = RenderQuery.safeParse(query);
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        const message = issue.code === 'unrecognized_keys' ? `unknown parameter ${issue.keys.map((k) => JSON.stringify(k.slice(0, 64))).join(', ')}` : `${issue.path.length ? `${issue.path.join('.')}: ` : ''}${issue.message}`;
        throw new AppError('invalid_request', `params: ${message}`);
      }
      try {
        await deps.checkRender(principal, image.id, parsed.data, (parsed.data.format ?? 'auto') === 'auto' ? 'image/avif' : undefined);
      } catch (err) {
        if (err instanceof AppError && err.code === 'invalid_request') throw new AppError(err.code, `params: ${err.message}`);
        throw err;
      }
      const expires = Math.floor((clock.now() + life) / 1000);
      const pairs: Array<[string, string]> = [...Object.entries(query), ['expires', String(expires)]];
      const sig = signLink(keys.signing, image.id, pairs);
      return {
        url: `${origin}${renderPath(image.id)}?${canonicalQuery(pairs)}&sig=${sig}`,
        expiresAt: new Date(expires * 1000).toISOString(),
      };
    },

    /**
     * Checks a request of a link: its signature (403 for any change), then its life (410), then
     * that the image still exists (404: a deleted image's links never work again, and ids are
     * never reused). `pairs` are the request's query parameters as sent, decoded.
     */
    async verify(imageId: string, pairs: ReadonlyArray<readonly [string, string]>): Promise<VerifiedLink> {
      const names = pairs.map(([k]) => k);
      if (new Set(names).size !== names.length) throw new AppError('forbidden', 'this link was changed: a parameter is repeated');
      const sig = pairs.find(([k]) => k === 'sig')?.[1] ?? '';
      const signed = pairs.filter(([k]) => k !== 'sig');
      const expires = signed.find(([k]) => k === 'expires')?.[1];
      if (expires === undefined || !/^\d{1,12}$/.test(expires) || !verifyLink(keys.verifying, imageId, signed, sig)) {
        throw new AppError('forbidden', 'this link was changed, or was signed with a key this server no longer has');
      }
      const expiresAt = Number(expires) * 1000;
      if (clock.now() >= expiresAt) throw new AppError('expired', `this link expired at ${new Date(expiresAt).toISOString()}`);
      const image = await deps.findImage(imageId);
      if (!image) throw new AppError('not_found', `no image ${imageId}`);
      const query = Object.fromEntries(signed.filter(([k]) => k !== 'expires'));
      return { principal: linkPrincipal(image.id, image.customer), imageId: image.id, expiresAt, query };
    },
  };
}
