/**
 * The floor under a submission's latency on this machine: `npx tsx bench/api/calls-floor.ts`.
 * Only the storage calls a 1-subject submission must make, in the API's order and with its clients
 * (ranged S3 GET ‖ quota UpdateItem → SendMessage → conditional PutItem), against the bench's
 * emulators (each in its own process), one at a time: no HTTP server, no validation, no load
 * generator. Prints p50/p99 and the CPU of this process and of the emulators per submission.
 * Compare the p50 with `bench:api`'s unloaded submission p50, before and after.
 */
import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { SendMessageCommand } from "@aws-sdk/client-sqs";
import { PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { createAwsClients, destroyAwsClients } from "@troupe/shared/aws/clients";
import { ResourceConfigSchema, loadConfig } from "@troupe/shared/config";
import { declaredMetadata, uploadKey } from "@troupe/shared/records/uploads";
import { tinySpec } from "../../test/support/seed-jobs.ts";
import { startBenchEmulators } from "./emulators.ts";

const WARMUP = 300;
const MEASURED = 400;

const emulators = await startBenchEmulators("separate");
const config = loadConfig(ResourceConfigSchema, emulators.env);
const clients = createAwsClients(config);
try {
  const bucket = config.TROUPE_BUCKET;
  const key = uploadKey("key_floor", "upl_floor");
  const png = Buffer.from("89504e470d0a1a0a0000000d4948445200000001000000010806000000", "hex");
  await clients.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: png, Metadata: declaredMetadata({ contentType: "image/png", contentLength: png.length }) }));
  const spec = tinySpec({ subjects: [{ uploadId: "upl_floor" }] });
  let n = 0;
  const submission = async () => {
    const id = `gen_floor${n++}`;
    const now = new Date().toISOString();
    await Promise.all([
      clients.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: "bytes=0-11" })).then((out) => out.Body!.transformToByteArray()),
      clients.ddb.send(
        new UpdateCommand({
          TableName: config.TROUPE_USAGE_TABLE,
          Key: { pk: "key_floor#2026-11", sk: "quota" },
          UpdateExpression: "ADD reserved :n, submitted :one",
          ConditionExpression: "attribute_not_exists(reserved) OR reserved <= :max",
          ExpressionAttributeValues: { ":n": 1, ":one": 1, ":max": 1e9 },
        }),
      ),
    ]);
    await clients.sqs.send(new SendMessageCommand({ QueueUrl: emulators.env.TROUPE_QUEUE_URL, MessageBody: JSON.stringify({ v: 1, jobId: id, tenantId: "key_floor", spec, enqueuedAt: now }) }));
    const item = { tenantId: "key_floor", id, status: "queued", spec, createdAt: now, progress: { step: 0, totalSteps: spec.steps }, quotaPeriod: "2026-11", safetyPolicy: "block", dispatchedAt: now };
    await clients.ddb.send(new PutCommand({ TableName: config.TROUPE_JOBS_TABLE, Item: item, ConditionExpression: "attribute_not_exists(id)" }));
  };
  for (let i = 0; i < WARMUP; i++) await submission();
  const latencies: number[] = [];
  const [cpu0, emu0] = [process.cpuUsage(), await emulators.cpu()];
  for (let i = 0; i < MEASURED; i++) {
    const t0 = performance.now();
    await submission();
    latencies.push(performance.now() - t0);
  }
  const cpu = process.cpuUsage(cpu0);
  const emu = (await emulators.cpu()) - emu0;
  latencies.sort((a, b) => a - b);
  const at = (p: number) => latencies[Math.floor(p * (latencies.length - 1))].toFixed(2);
  console.log(
    `storage calls of a 1-subject submission alone: p50 ${at(0.5)} ms, p99 ${at(0.99)} ms; CPU per submission: this process ${((cpu.user + cpu.system) / 1000 / MEASURED).toFixed(2)} ms, emulators ${(emu / MEASURED).toFixed(2)} ms`,
  );
} finally {
  destroyAwsClients(clients);
  await emulators.stop();
}
