import { PutObjectCommand } from "@aws-sdk/client-s3";
import sharp from "sharp";
import type { GenerationSpec } from "@troupe/shared/contracts/generation";
import { newId } from "@troupe/shared/ids";
import { dispatchJob, sendJobMessage } from "@troupe/shared/jobs/dispatch";
import { ApiKeyStore, JobStore, UsageStore, uploadKey, usagePeriod, type JobRecord } from "@troupe/shared/records";
import type { TestEnv } from "../../local/test-env.ts";

/** Stores over a test env's emulators. */
export const storesFor = (t: TestEnv) => ({
  keys: new ApiKeyStore(t.clients.ddb, t.config.TROUPE_KEYS_TABLE),
  jobs: new JobStore(t.clients.ddb, t.config.TROUPE_JOBS_TABLE),
  usage: new UsageStore(t.clients.ddb, t.config.TROUPE_USAGE_TABLE),
});

/** A small reference photo stand-in: a coloured disc on grey, as PNG. */
export async function referencePng(hue: string, size = 64): Promise<Buffer> {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}"><rect width="100%" height="100%" fill="#888"/><circle cx="${size / 2}" cy="${size / 2}" r="${size / 3}" fill="${hue}"/></svg>`;
  return sharp(Buffer.from(svg)).png().toBuffer();
}

export const tinySpec = (overrides: Partial<GenerationSpec> = {}): GenerationSpec => ({
  prompt: "a man img and a woman img sitting in a park",
  negativePrompt: "",
  subjects: [{ uploadId: "upl_placeholder0" }, { uploadId: "upl_placeholder1" }],
  numImages: 1,
  steps: 10,
  guidanceScale: 5,
  alpha: 0.7,
  scheduler: "pndm",
  seed: 7,
  width: 128,
  height: 128,
  ...overrides,
});

/**
 * What the API does on submit, done directly against the stores: reference objects in S3,
 * quota reserved, job record written, message sent. For runner tests that are not about the API.
 */
export async function seedJob(t: TestEnv, tenantId: string, spec: GenerationSpec, references?: Buffer[]): Promise<JobRecord> {
  const record = await prepareJob(t, tenantId, spec, references);
  await storesFor(t).jobs.create(record);
  await dispatchJob({ sqs: t.clients.sqs, queueUrl: t.config.TROUPE_QUEUE_URL!, jobs: storesFor(t).jobs }, record);
  return record;
}

/**
 * The API's order (functions submit-generation.ts): the message is sent, the record is written
 * later, when the test calls `writeRecord` (or never: an orphan message).
 */
export async function seedMessageFirst(
  t: TestEnv,
  tenantId: string,
  spec: GenerationSpec,
): Promise<{ record: JobRecord; writeRecord: (specChanges?: Partial<GenerationSpec>) => Promise<boolean> }> {
  const record = await prepareJob(t, tenantId, spec);
  const dispatched = { ...record, dispatchedAt: new Date().toISOString() };
  await sendJobMessage({ sqs: t.clients.sqs, queueUrl: t.config.TROUPE_QUEUE_URL! }, dispatched);
  // `specChanges`: the record another request wrote for the same id (a takeover race) differs from the message.
  const writeRecord = (specChanges: Partial<GenerationSpec> = {}) => {
    const written = { ...dispatched, spec: { ...dispatched.spec, ...specChanges } };
    return storesFor(t).jobs.create({ ...written, progress: { step: 0, totalSteps: written.spec.steps * written.spec.numImages } });
  };
  return { record: dispatched, writeRecord };
}

/** The reference objects in S3 and the reserved quota of a job, and its record (not written). */
async function prepareJob(t: TestEnv, tenantId: string, spec: GenerationSpec, references?: Buffer[]): Promise<JobRecord> {
  const s = storesFor(t);
  const refs = references ?? (await Promise.all(spec.subjects.map((_, i) => referencePng(i % 2 ? "#c33" : "#36c"))));
  const subjects = spec.subjects.map((subject) => ({ ...subject, uploadId: newId("upl") }));
  for (const [i, subject] of subjects.entries()) {
    await t.clients.s3.send(new PutObjectCommand({ Bucket: t.config.TROUPE_BUCKET, Key: uploadKey(tenantId, subject.uploadId), Body: refs[i] }));
  }
  const period = usagePeriod();
  await s.usage.reserve(tenantId, period, spec.numImages, 1000);
  return {
    tenantId,
    id: newId("gen"),
    status: "queued",
    spec: { ...spec, subjects },
    createdAt: new Date().toISOString(),
    progress: { step: 0, totalSteps: spec.steps * spec.numImages },
    quotaPeriod: period,
  };
}
