/**
 * A/B of the HTTP client under the SDK clients, not part of `npm run bench:api`:
 *   npx tsx bench/api/http-handler-ab.ts [--n 300] [--rounds 4]
 * Emulators run in child processes; this process makes the API's kinds of storage calls (DynamoDB
 * Get and Update, an SQS send, an S3 ranged GET) through clients on `node:http` and on undici,
 * alternating blocks, and prints this process's CPU ms per storage call for each, per round.
 */
import { parseArgs } from "node:util";
import { PutObjectCommand, GetObjectCommand } from "@aws-sdk/client-s3";
import { SendMessageCommand } from "@aws-sdk/client-sqs";
import { GetCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { createAwsClients, destroyAwsClients, type AwsClients } from "@troupe/shared/aws/clients";
import { ResourceConfigSchema, loadConfig } from "@troupe/shared/config";
import { startBenchEmulators } from "./emulators.ts";

const { values } = parseArgs({ options: { n: { type: "string", default: "300" }, rounds: { type: "string", default: "4" }, concurrency: { type: "string", default: "1" } } });
const n = Number(values.n);
const concurrency = Number(values.concurrency);
const emulators = await startBenchEmulators("separate");
const config = loadConfig(ResourceConfigSchema, emulators.env);
const variants = { node: createAwsClients(config, { http: "node" }), undici: createAwsClients(config, { http: "undici" }) };

await variants.node.s3.send(new PutObjectCommand({ Bucket: config.TROUPE_BUCKET, Key: "ab/object", Body: Buffer.alloc(4096, 1) }));
const CALLS_PER_ROUND = 4;
async function oneRound(c: AwsClients, i: number): Promise<void> {
  await c.ddb.send(new GetCommand({ TableName: config.TROUPE_KEYS_TABLE, Key: { keyId: `ab${i % 10}` } }));
  await c.ddb.send(new UpdateCommand({ TableName: config.TROUPE_USAGE_TABLE, Key: { pk: `ab#${i % 10}`, sk: "usage" }, UpdateExpression: "ADD n :one", ExpressionAttributeValues: { ":one": 1 } }));
  await c.sqs.send(new SendMessageCommand({ QueueUrl: emulators.env.TROUPE_QUEUE_URL, MessageBody: '{"jobId":"ab"}' }));
  const obj = await c.s3.send(new GetObjectCommand({ Bucket: config.TROUPE_BUCKET, Key: "ab/object", Range: "bytes=0-63" }));
  await obj.Body?.transformToByteArray();
}
async function block(c: AwsClients): Promise<number> {
  const cpu0 = process.cpuUsage();
  await Promise.all(Array.from({ length: concurrency }, async (_, w) => { for (let i = w; i < n; i += concurrency) await oneRound(c, i); }));
  const u = process.cpuUsage(cpu0);
  return (u.user + u.system) / 1000 / (n * CALLS_PER_ROUND);
}
try {
  for (const c of Object.values(variants)) await block(c); // warm-up: connections, JIT
  for (let r = 0; r < Number(values.rounds); r++) {
    const line: string[] = [];
    for (const [name, c] of r % 2 ? Object.entries(variants).reverse() : Object.entries(variants)) line.push(`${name} ${(await block(c)).toFixed(3)}`);
    console.log(`round ${r + 1}: CPU ms per storage call: ${line.join(", ")}`);
  }
} finally {
  for (const c of Object.values(variants)) destroyAwsClients(c);
  await emulators.stop();
}
