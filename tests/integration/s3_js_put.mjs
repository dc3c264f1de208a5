// The AWS SDK for JavaScript v3 against the stockwatch S3 API, for test_s3.py.
//
//   node s3_js_put.mjs ENDPOINT_URL KEY=PATH [KEY=PATH ...]
//
// For each pair: PutObject with a file stream as the body (the SDK sends it aws-chunked
// with a CRC32 trailer, even over http://), then HeadObject and GetObject. Prints one JSON
// document: [{key, put: {etag, checksumCRC32}, head: {etag, size}, getSha256, sent}], where
// `sent` holds the headers of the PutObject request as signed. Credentials come from
// AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY. Exits 1 with the error on any failure.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

import {
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';

const [endpoint, ...pairs] = process.argv.slice(2);
const client = new S3Client({
  endpoint,
  region: 'us-east-1',
  forcePathStyle: true,
  maxAttempts: 1,
  credentials: {
    accessKeyId: process.env.AWS_ACCESS_KEY_ID,
    secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY,
  },
});

// The request as it goes on the wire: the deserialize step runs after signing.
let lastRequest = null;
client.middlewareStack.add(
  (next) => async (args) => {
    if (args.request && args.request.headers) {
      lastRequest = { method: args.request.method, path: args.request.path,
                      headers: { ...args.request.headers } };
    }
    return next(args);
  },
  { step: 'deserialize', name: 'stockwatchRecordRequest' },
);

async function sha256OfBody(body) {
  const hash = createHash('sha256');
  for await (const chunk of body) hash.update(chunk);
  return hash.digest('hex');
}

const results = [];
try {
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    const key = pair.slice(0, eq);
    const path = pair.slice(eq + 1);
    const put = await client.send(new PutObjectCommand({
      Bucket: 'inventory', Key: key, Body: createReadStream(path), ContentType: 'text/csv',
    }));
    const sent = lastRequest;
    const head = await client.send(new HeadObjectCommand({ Bucket: 'inventory', Key: key }));
    const got = await client.send(new GetObjectCommand({ Bucket: 'inventory', Key: key }));
    results.push({
      key,
      put: { etag: put.ETag, checksumCRC32: put.ChecksumCRC32 ?? null },
      head: { etag: head.ETag, size: head.ContentLength, contentType: head.ContentType },
      getSha256: await sha256OfBody(got.Body),
      sent,
    });
  }
} catch (err) {
  console.error(JSON.stringify({
    name: err.name, message: err.message, status: err.$metadata?.httpStatusCode,
    request: lastRequest,
  }));
  process.exit(1);
}
console.log(JSON.stringify(results));
