import { DeleteObjectCommand, ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";

/**
 * Deletes every object under `prefix` now (DESIGN §2 deletion), a listed page at a time.
 * Returns how many were deleted. Deleting what is not there is not an error.
 */
export async function deletePrefix(s3: S3Client, bucket: string, prefix: string): Promise<number> {
  let deleted = 0;
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    const keys = (page.Contents ?? []).flatMap((o) => (o.Key ? [o.Key] : []));
    deleted += await deleteKeys(s3, bucket, keys);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return deleted;
}

/**
 * Deletes the given keys, a few at a time. One DeleteObject per key rather than DeleteObjects: a job
 * or subject has a handful of objects, and s3rver does not accept DeleteObjects' checksum headers.
 */
export async function deleteKeys(s3: S3Client, bucket: string, keys: readonly string[]): Promise<number> {
  for (let i = 0; i < keys.length; i += 8) {
    await Promise.all(keys.slice(i, i + 8).map((Key) => s3.send(new DeleteObjectCommand({ Bucket: bucket, Key }))));
  }
  return keys.length;
}
