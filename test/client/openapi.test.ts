import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startTestStack, type TestStack } from "../support/test-stack.ts";
import { referencePng } from "../support/seed-jobs.ts";

/**
 * The OpenAPI document as generators see it: linted by Redocly's recommended rules (redocly.yaml),
 * turned into a client by an independent generator (openapi-typescript + openapi-fetch), and that
 * client typechecked under strict settings and run against the local stack.
 */
const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const bin = (name: string) => join(ROOT, "node_modules/.bin", name);

function sh(file: string, args: string[], cwd = ROOT): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd, timeout: 120_000, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

type Operation = { operationId?: string; security?: unknown[] };
type Doc = {
  servers?: { url: string }[];
  security?: unknown[];
  info: { license?: object };
  paths: Record<string, Record<string, Operation>>;
  webhooks?: Record<string, { post?: { parameters?: { name: string; in: string }[]; requestBody?: unknown } }>;
  components: { schemas: Record<string, unknown> };
};

let stack: TestStack;
let dir: string;
let doc: Doc;
let docPath: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "troupe-openapi-"));
  stack = await startTestStack("openapi");
  doc = (await (await fetch(`${stack.apiUrl}/openapi.json`)).json()) as Doc;
  docPath = join(dir, "openapi.json");
  writeFileSync(docPath, JSON.stringify(doc, null, 2));
});
afterAll(async () => {
  await stack?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("the OpenAPI document", () => {
  it("names every operation, secures all but health and itself, and names every body", () => {
    const operations = Object.entries(doc.paths).flatMap(([path, methods]) => Object.entries(methods).map(([method, op]) => ({ path, method, op })));
    for (const { path, method, op } of operations) expect(op.operationId, `${method} ${path}`).toMatch(/^[a-z][A-Za-z]+$/);
    expect(new Set(operations.map((o) => o.op.operationId)).size).toBe(operations.length);
    expect(doc.servers).toEqual([expect.objectContaining({ url: stack.apiUrl })]);
    expect(doc.security).toEqual([{ bearer: [] }]);
    expect(doc.paths["/healthz"]?.get?.security).toEqual([]);
    expect(doc.paths["/openapi.json"]?.get?.security).toEqual([]);
    expect(doc.info.license).toBeDefined();
    for (const name of ["Job", "JobPage", "CreateGeneration", "Upload", "CreateUpload", "Usage", "Error", "WebhookSecret", "Health"]) {
      expect(doc.components.schemas, name).toHaveProperty(name);
    }
    const box = JSON.stringify(doc.components.schemas.CreateGeneration);
    expect(box).toMatch(/"prefixItems":\[.*?\],"minItems":4,"maxItems":4|"minItems":4,"maxItems":4/);
  });

  it("describes the webhook delivery: the job object and the Standard Webhooks headers", () => {
    const post = doc.webhooks?.job?.post;
    expect(post?.parameters?.map((p) => `${p.in}:${p.name}`).sort()).toEqual(["header:webhook-id", "header:webhook-signature", "header:webhook-timestamp"]);
    expect(JSON.stringify(post?.requestBody)).toContain('"$ref":"#/components/schemas/Job"');
  });

  it("passes Redocly's recommended rules with no error and no warning", async () => {
    const lint = await sh(bin("redocly"), ["lint", docPath, "--config", join(ROOT, "redocly.yaml"), "--format", "json"]);
    const report = JSON.parse(lint.stdout) as { totals: { errors: number; warnings: number }; problems: { ruleId: string; message: string }[] };
    expect(report.problems.map((p) => `${p.ruleId}: ${p.message}`)).toEqual([]);
    expect(report.totals).toMatchObject({ errors: 0, warnings: 0 });
    expect(lint.code).toBe(0);
  });
});

const PROGRAM = `import createClient from "openapi-fetch";
import { readFile } from "node:fs/promises";
import type { paths, components } from "./api.js";

type Job = components["schemas"]["Job"];
const [baseUrl, key, image] = process.argv.slice(2);
if (!baseUrl || !key || !image) throw new Error("usage: main.js URL KEY IMAGE");
const api = createClient<paths>({ baseUrl, headers: { authorization: \`Bearer \${key}\` } });

const bytes = await readFile(image);
const upload = await api.POST("/v1/uploads", { body: { contentType: "image/png", contentLength: bytes.byteLength } });
if (!upload.data) throw new Error(\`upload: \${upload.response.status}\`);
const put = await fetch(upload.data.uploadUrl, { method: upload.data.method, headers: upload.data.headers, body: new Uint8Array(bytes) });
if (!put.ok) throw new Error(\`put: \${put.status}\`);

// Synchronous mode: the answer is the finished job.
const created = await api.POST("/v1/generations", {
  params: { header: { prefer: "wait=30", "idempotency-key": "openapi-fetch-1" } },
  body: { prompt: "a dog img", subjects: [{ uploadId: upload.data.id, box: [0, 0, 1, 1] }], steps: 2, width: 128, height: 128 },
});
if (!created.data) throw new Error(\`create: \${created.response.status} \${JSON.stringify(created.error)}\`);
// openapi-fetch maps response arrays (tuples too) through its Readable<> helper, so its data is not
// assignable to components["schemas"]["Job"] (box becomes number[]): read it as openapi-fetch types it.
const job = created.data;
const terminal: Job["status"][] = ["succeeded", "failed", "canceled"];
const polled = await api.GET("/v1/generations/{id}", { params: { path: { id: job.id } } });
const missing = await api.GET("/v1/generations/{id}", { params: { path: { id: "gen_doesnotexist0" } } });
const usage = await api.GET("/v1/usage");
console.log(JSON.stringify({
  status: created.response.status,
  applied: created.response.headers.get("preference-applied"),
  jobStatus: terminal.includes(job.status) ? job.status : "pending",
  outputs: job.outputs.length,
  polled: polled.data?.id === job.id,
  missing: missing.error?.error.code,
  used: usage.data?.images.used,
}));
`;

describe("a client generated by openapi-typescript + openapi-fetch", () => {
  it("typechecks under strict settings and runs against the local stack", async () => {
    // Defaults make a property required only in what the server sends, never in what a client must send.
    const generated = await sh(bin("openapi-typescript"), [docPath, "--output", join(dir, "api.d.ts"), "--default-non-nullable=false"]);
    expect(generated.code, generated.stderr).toBe(0);
    symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"), "dir");
    writeFileSync(join(dir, "package.json"), JSON.stringify({ type: "module", private: true }));
    writeFileSync(join(dir, "main.ts"), PROGRAM);
    writeFileSync(
      join(dir, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: { target: "ES2022", module: "NodeNext", moduleResolution: "NodeNext", strict: true, noUncheckedIndexedAccess: true, types: ["node"], outDir: "dist", skipLibCheck: true },
        files: ["main.ts", "api.d.ts"],
      }),
    );
    const tsc = await sh(process.execPath, [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", dir], dir);
    expect(tsc.stdout + tsc.stderr).toBe("");

    const image = join(dir, "dog.png");
    writeFileSync(image, await referencePng("#36c"));
    const ran = await sh(process.execPath, [join(dir, "dist/main.js"), stack.apiUrl, stack.apiKey, image], dir);
    expect(ran.code, ran.stderr).toBe(0);
    expect(JSON.parse(ran.stdout.trim())).toEqual({
      status: 200,
      applied: "wait=30",
      jobStatus: "succeeded",
      outputs: 1,
      polled: true,
      missing: "not_found",
      used: 1,
    });
  });
});
