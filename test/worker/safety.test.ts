import { GetObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAwsClients, destroyAwsClients, type AwsClients } from "@troupe/shared/aws/clients";
import type { SafetyPolicy } from "@troupe/shared/contracts/safety";
import { ResourceConfigSchema, loadConfig } from "@troupe/shared/config";
import { ApiKeyStore, keyIdOf } from "@troupe/shared/records/api-keys";
import { ensureFlagAllTinyBundle, ensureNoSafetyTinyBundle, ensureTinyBundle } from "../../gpu-runner/src/bundle/tiny-bundle.ts";
import { referencePng } from "../support/seed-jobs.ts";
import { startTestStack, type TestStack } from "../support/test-stack.ts";
import { waitFor } from "../support/wait-for.ts";

/**
 * Per-key safety policy on the whole local stack (DESIGN §2), with two tiny bundles: one whose safety
 * checker flags every image (concept thresholds −2) and the plain one, whose random checker flags none.
 * The dev key's policy is changed between submissions: each job keeps the policy it was submitted under.
 */
interface Harness {
  stack: TestStack;
  clients: AwsClients;
  keys: ApiKeyStore;
  keyId: string;
  bucket: string;
}

async function harness(name: string, bundle: string): Promise<Harness> {
  // no key cache: the policy set just before a submission is the one the API reads
  const stack = await startTestStack(name, { TROUPE_BUNDLE: bundle, TROUPE_KEY_CACHE_TTL_MS: "0" });
  const config = loadConfig(ResourceConfigSchema, { TROUPE_S3_ENDPOINT: stack.endpoints.s3, TROUPE_SQS_ENDPOINT: stack.endpoints.sqs, TROUPE_DYNAMODB_ENDPOINT: stack.endpoints.dynamodb });
  const clients = createAwsClients(config);
  return { stack, clients, keys: new ApiKeyStore(clients.ddb, config.TROUPE_KEYS_TABLE), keyId: keyIdOf(stack.apiKey)!, bucket: config.TROUPE_BUCKET };
}

async function api(h: Harness, path: string, body?: unknown): Promise<{ status: number; body: Record<string, any> }> {
  const res = await fetch(`${h.stack.apiUrl}${path}`, {
    method: body ? "POST" : "GET",
    headers: { authorization: `Bearer ${h.stack.apiKey}`, "content-type": "application/json" },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

async function uploadId(h: Harness): Promise<string> {
  const bytes = await referencePng("#36c");
  const { body } = await api(h, "/v1/uploads", { contentType: "image/png", contentLength: bytes.length });
  expect((await fetch(body.uploadUrl, { method: "PUT", headers: body.headers, body: bytes })).status).toBe(200);
  return body.id;
}

/** Submits one two-image job under `policy` (set on the key just before) and waits for it to end. */
async function jobUnder(h: Harness, policy: SafetyPolicy, upload: string): Promise<Record<string, any>> {
  expect(await h.keys.setSafetyPolicy(h.keyId, policy)).toBe(true);
  const created = await api(h, "/v1/generations", { prompt: "a man img in a park", subjects: [{ uploadId: upload }], numImages: 2, steps: 2, width: 64, height: 64, scheduler: "ddim", seed: 1 });
  expect(created.status).toBe(202);
  expect(created.body.safetyPolicy).toBe(policy);
  return waitFor(async () => {
    const { body } = await api(h, `/v1/generations/${created.body.id}`);
    return ["succeeded", "failed", "canceled"].includes(body.status) ? body : null;
  }, { what: `job under ${policy}`, timeoutMs: 60_000 });
}

const stored = (url: string) => fetch(url).then((r) => [r.status, r.headers.get("content-type")]);
const objectExists = (h: Harness, key: string) =>
  h.clients.s3.send(new GetObjectCommand({ Bucket: h.bucket, Key: key })).then(
    () => true,
    (e: Error) => (e.name === "NoSuchKey" ? false : Promise.reject(e)),
  );

describe("a bundle whose safety checker flags every image", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness("safety-flagged", await ensureFlagAllTinyBundle());
  }, 120_000);
  afterAll(async () => {
    if (h) destroyAwsClients(h.clients);
    await h?.stack.stop();
  });

  it("block withholds (never stored), flag stores and marks, off stores unchecked; usage counts them all", async () => {
    const upload = await uploadId(h);
    const blocked = await jobUnder(h, "block", upload);
    const flagged = await jobUnder(h, "flag", upload);
    const off = await jobUnder(h, "off", upload);

    expect(blocked.status).toBe("succeeded");
    expect(blocked.outputs).toEqual([0, 1].map(() => ({ url: null, expiresAt: null, width: 64, height: 64, contentType: "image/png", safety: { flagged: true }, withheld: true, reason: "safety" })));
    for (const n of [0, 1]) expect(await objectExists(h, `outputs/${h.keyId}/${blocked.id}/${n}.png`)).toBe(false);
    expect(blocked.attentionMaps).toHaveLength(1); // rendered over black, not over the withheld image

    expect(flagged.outputs.map((o: any) => [o.withheld, o.reason, o.safety])).toEqual([0, 1].map(() => [false, null, { flagged: true }]));
    for (const o of flagged.outputs) expect(await stored(o.url)).toEqual([200, "image/png"]);

    expect(off.outputs.map((o: any) => [o.withheld, o.safety])).toEqual([0, 1].map(() => [false, null]));
    for (const o of off.outputs) expect(await stored(o.url)).toEqual([200, "image/png"]);

    // every generated image is billed; the usage says how many were flagged and withheld, and the key's policy now
    const usage = await waitFor(async () => {
      const { body } = await api(h, "/v1/usage");
      return body.images.used === 6 ? body : null;
    }, { what: "usage of the three jobs" });
    expect(usage.safety).toEqual({ policy: "off", flagged: 4, withheld: 2 });
  });
});

describe("a bundle whose safety checker flags nothing", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness("safety-clean", await ensureTinyBundle());
  }, 120_000);
  afterAll(async () => {
    if (h) destroyAwsClients(h.clients);
    await h?.stack.stop();
  });

  it("stores every image under each policy, marked clean where checked", async () => {
    const upload = await uploadId(h);
    for (const policy of ["block", "flag", "off"] as const) {
      const job = await jobUnder(h, policy, upload);
      expect(job.status).toBe("succeeded");
      expect(job.outputs.map((o: any) => [o.withheld, o.reason, o.safety])).toEqual([0, 1].map(() => [false, null, policy === "off" ? null : { flagged: false }]));
      for (const o of job.outputs) expect(await stored(o.url)).toEqual([200, "image/png"]);
    }
    expect((await api(h, "/v1/usage")).body.safety).toMatchObject({ flagged: 0, withheld: 0 });
  });
});

describe("a bundle without a safety checker", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness("safety-none", await ensureNoSafetyTinyBundle());
  }, 120_000);
  afterAll(async () => {
    if (h) destroyAwsClients(h.clients);
    await h?.stack.stop();
  });

  it("fails jobs under block and flag with safety_unavailable (quota given back), runs them under off", async () => {
    const upload = await uploadId(h);
    for (const policy of ["block", "flag"] as const) {
      const job = await jobUnder(h, policy, upload);
      expect(job).toMatchObject({ status: "failed", outputs: [], error: { code: "safety_unavailable" } });
      expect(job.error.message).toContain("has no safety checker");
    }
    const off = await jobUnder(h, "off", upload);
    expect(off.status).toBe("succeeded");
    expect(off.outputs.map((o: any) => o.safety)).toEqual([null, null]);
    await waitFor(async () => {
      const { body } = await api(h, "/v1/usage");
      return body.images.reserved === 2 && body.images.used === 2 && body.jobs.failed === 2 ? body : null;
    }, { what: "the failed jobs' quota given back" });
  });
});
