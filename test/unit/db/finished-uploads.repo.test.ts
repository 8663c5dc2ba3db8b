/** Which image each finished resumable upload became, through the database port, on every dialect. */
import { describe, expect, it } from 'vitest';
import { DIALECTS } from '../../helpers/database.js';
import { imageId, newImage } from '../../helpers/image-rows.js';

const image = (n: number) => newImage(n, { source: 'tus' });

describe.each(DIALECTS)('finished uploads repository on $dialect', ({ open }) => {
  it('answers the image an upload became, and refuses a second image for the same upload', async () => {
    const { repos } = await open();
    await repos.images.insert(image(1), []);
    await repos.images.insert(image(2), []);
    expect(await repos.finishedUploads.imageOf('u1')).toBeUndefined();
    await repos.finishedUploads.record('u1', imageId(1), 5_000);
    expect(await repos.finishedUploads.imageOf('u1')).toBe(imageId(1));
    expect(await repos.finishedUploads.imageOf('u2')).toBeUndefined();
    await expect(repos.finishedUploads.record('u1', imageId(2), 6_000)).rejects.toThrow();
    expect(await repos.finishedUploads.imageOf('u1')).toBe(imageId(1));
  });

  it('forgets an upload with its image, and after the sweep age', async () => {
    const { repos } = await open();
    for (const n of [1, 2, 3]) await repos.images.insert(image(n), []);
    await repos.finishedUploads.record('u1', imageId(1), 1_000);
    await repos.finishedUploads.record('u2', imageId(2), 2_000);
    await repos.finishedUploads.record('u3', imageId(3), 3_000);
    expect(await repos.images.delete(imageId(2))).toBe(true);
    expect(await repos.finishedUploads.imageOf('u2')).toBeUndefined();
    expect(await repos.finishedUploads.forgetBefore(3_000)).toBe(1);
    expect(await repos.finishedUploads.imageOf('u1')).toBeUndefined();
    expect(await repos.finishedUploads.imageOf('u3')).toBe(imageId(3));
  });
});
