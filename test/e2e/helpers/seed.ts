import { v7 as uuidv7 } from 'uuid';
import { DEFAULT_VARIANTS } from '../../../server/services/variants.js';
import type { ApiClient, TestServer } from '../../helpers/server.js';

/**
 * Fills a library with `count` processed images quickly: one real image goes through the whole
 * pipeline, then its rows are copied straight into the database (each copy its own id, name and
 * time, all pointing at the real original and variant files). Only for measuring the UI with a
 * large library; every other test uploads for real.
 */
export async function seedLibrary(t: TestServer, client: ApiClient, count: number, image: { name: string; data: Buffer }) {
  const uploaded = await client.upload([image]);
  const done = await client.waitFor(uploaded.body.id);
  if (done.status !== 'done') throw new Error(`seed image ended ${done.status}`);
  const { database, images, clock } = t.server.parts;
  const source = (await images.findById(done.id))!;
  const variants = await images.variantsOf(done.id);
  const now = clock.now();
  await database.unitOfWork(async (repos) => {
    for (let i = 0; i < count; i++) {
      const id = uuidv7();
      await repos.images.insert(
        {
          id,
          customer: source.customer,
          filename: `photo-${String(count - i).padStart(5, '0')}.jpg`,
          bytes: source.bytes,
          sha256: source.sha256,
          format: source.format,
          width: source.width,
          height: source.height,
          pages: source.pages,
          source: 'upload',
          created_at: now - 1000 - i * 1000,
        },
        DEFAULT_VARIANTS,
      );
      for (const v of variants) {
        await repos.images.completeVariant(id, v.name, {
          width: v.width!,
          height: v.height!,
          bytes: v.bytes!,
          path: v.path!,
          etag: v.etag!,
          writtenAt: v.written_at!,
          expiresAt: v.expires_at!,
        });
      }
      await repos.images.finish(id, 'done', now);
      await repos.images.saveSummary(id, source.thumbhash!, source.dominant_color!);
    }
  });
  return count + 1;
}
