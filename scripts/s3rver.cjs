#!/usr/bin/env node
'use strict';

/**
 * s3rver's command line, with the one promise of S3 it breaks kept: an object is replaced
 * whole or not at all. Darkroom's tests and benchmarks run on s3rver (a real S3-protocol
 * server in one process), and rely on what every store Darkroom supports guarantees (AWS S3,
 * MinIO, Ceph RGW, R2: docs/deploy.md): a PUT that was answered is all there, and a reader sees
 * an object's old version or its new one, never a mix.
 *
 * s3rver 3.7 keeps an object as three files (bytes, metadata, md5) and writes them in place: it
 * answers a PUT before the bytes are flushed (`writeStream.end()` then resolve), truncates the
 * file a reader may be reading, and a listing that parses a metadata file being rewritten fails
 * with 500. With several nodes overwriting and reading one small object at once (a resumable
 * upload's record, finished on one node while another asks), that showed up as answers no real
 * store would cause. Here every write goes to a temporary file first and is awaited; the three
 * files are swapped under a lock per object, which readers take while they read the metadata
 * and open the bytes (an open file keeps its old contents through a rename). s3rver is small
 * and unmaintained, so patching its store here is less than forking it.
 */

const crypto = require('node:crypto');
const fs = require('node:fs');
const fsp = require('node:fs/promises');
const path = require('node:path');
const { AsyncLocalStorage } = require('node:async_hooks');
const { Transform } = require('node:stream');
const { pipeline } = require('node:stream/promises');
const FilesystemStore = require('s3rver/lib/stores/filesystem');

/** The locks this async context holds, so a locked method calling another does not wait on itself. */
const held = new AsyncLocalStorage();
/** The last waiter of each object's lock. */
const tails = new Map();

async function exclusive(id, fn) {
  const mine = held.getStore();
  if (mine && mine.has(id)) return fn();
  const previous = tails.get(id) || Promise.resolve();
  let release;
  const turn = new Promise((resolve) => (release = resolve));
  const tail = previous.then(() => turn);
  tails.set(id, tail);
  await previous;
  try {
    return await held.run(new Set([...(mine || []), id]), fn);
  } finally {
    release();
    if (tails.get(id) === tail) tails.delete(id);
  }
}

let sequence = 0;
const temporary = (file) => `${file}.${process.pid}-${++sequence}.tmp`;

/** Writes a stream or buffer to a temporary file beside `file`, waiting until it is written. */
async function writeTemporary(file, content) {
  await fsp.mkdir(path.dirname(file), { recursive: true });
  const tmp = temporary(file);
  const md5 = crypto.createHash('md5');
  let size = 0;
  const source = Buffer.isBuffer(content) ? [content] : content;
  await pipeline(
    source,
    new Transform({
      transform(chunk, _encoding, callback) {
        md5.update(chunk);
        size += chunk.length;
        callback(null, chunk);
      },
    }),
    fs.createWriteStream(tmp),
  );
  return { tmp, size, md5: md5.digest('hex') };
}

const store = FilesystemStore.prototype;
const original = {
  getMetadata: store.getMetadata,
  getObject: store.getObject,
  deleteObject: store.deleteObject,
  copyObject: store.copyObject,
  putMetadata: store.putMetadata,
};

store.putObject = async function putObject(object) {
  const objectPath = this.getResourcePath(object.bucket, object.key, 'object');
  const { tmp, size, md5 } = await writeTemporary(objectPath, object.content);
  await exclusive(objectPath, async () => {
    await fsp.rename(tmp, objectPath);
    await original.putMetadata.call(this, object.bucket, object.key, object.metadata, md5);
  });
  return { size, md5 };
};

store.putPart = async function putPart(bucket, uploadId, partNumber, content) {
  const partPath = path.join(this.getResourcePath(bucket, undefined, 'uploads'), uploadId, String(partNumber));
  const { tmp, size, md5 } = await writeTemporary(partPath, content);
  await fsp.writeFile(`${partPath}.md5`, md5);
  await fsp.rename(tmp, partPath);
  return { size, md5 };
};

store.getMetadata = function getMetadata(bucket, key) {
  return exclusive(this.getResourcePath(bucket, key, 'object'), () => original.getMetadata.call(this, bucket, key));
};

store.getObject = function getObject(bucket, key, options) {
  return exclusive(this.getResourcePath(bucket, key, 'object'), () => original.getObject.call(this, bucket, key, options));
};

store.deleteObject = function deleteObject(bucket, key) {
  return exclusive(this.getResourcePath(bucket, key, 'object'), () => original.deleteObject.call(this, bucket, key));
};

store.copyObject = function copyObject(srcBucket, srcKey, destBucket, destKey, replacementMetadata) {
  return exclusive(this.getResourcePath(destBucket, destKey, 'object'), () =>
    original.copyObject.call(this, srcBucket, srcKey, destBucket, destKey, replacementMetadata),
  );
};

require('s3rver/bin/s3rver.js');
