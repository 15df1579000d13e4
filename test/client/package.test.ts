import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, mkdirSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startTestStack, type TestStack } from "../support/test-stack.ts";
import { referencePng } from "../support/seed-jobs.ts";

/**
 * `@troupe/client` as an integrator gets it: `npm pack`ed (which builds it), installed offline into a
 * project outside the repo, typechecked there under strict settings with NodeNext and with Bundler
 * resolution, and run against the local stack.
 */
const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const repoModule = (name: string) => join(ROOT, "node_modules", name);

function sh(file: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd, env, timeout: 120_000, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, out: `${stdout}${stderr}` });
    });
  });
}

const PROGRAM = `import { createTroupeClient, isTroupeError, type Job, type Subject } from "@troupe/client";
import { readImage } from "@troupe/client/node";

const [apiUrl, apiKey, image] = process.argv.slice(2);
if (!apiUrl || !apiKey || !image) throw new Error("usage: main.js API_URL API_KEY IMAGE");
const client = createTroupeClient({ baseUrl: apiUrl, apiKey });
const seen: string[] = [];
const job: Job = await client.run(
  { prompt: "a dog img in a park", subjects: [{ file: await readImage(image), box: [0, 0, 1, 1] }], steps: 3, width: 128, height: 128 },
  { onProgress: (j) => seen.push(j.status), pollIntervalMs: 20 },
);
const first = job.outputs[0];
// A withheld image (safety policy) has no URL.
if (!first?.url) throw new Error("no stored output");
const png = new Uint8Array(await (await fetch(first.url)).arrayBuffer());
try {
  await client.generations.get("gen_doesnotexist0");
} catch (e) {
  if (!isTroupeError(e)) throw e;
  seen.push(e.code);
}
// A reusable subject from the job's upload; DELETE answers 204, which the client resolves as void.
const uploadId = job.input.subjects[0]?.uploadId;
if (!uploadId) throw new Error("no upload id in the job");
const subject: Subject = await client.subjects.create({ uploadId });
const gone: void = await client.subjects.delete(subject.id);
console.log(JSON.stringify({ status: job.status, seen, png: Array.from(png.subarray(1, 4)), subject: subject.id.slice(0, 4), gone: gone === undefined }));
`;

/** A CommonJS consumer (`.cts` compiles to `require`), against the package's `require` condition. */
const CJS_PROGRAM = `import { createTroupeClient, isTroupeError } from "@troupe/client";
import { readImage } from "@troupe/client/node";

async function main(): Promise<void> {
  const [apiUrl, apiKey] = process.argv.slice(2);
  if (!apiUrl || !apiKey) throw new Error("usage: check.cjs API_URL API_KEY");
  const usage = await createTroupeClient({ baseUrl: apiUrl, apiKey }).usage();
  const missing = await readImage("/nonexistent.png").catch((e: unknown) => (isTroupeError(e) ? e.code : "other"));
  console.log(JSON.stringify({ period: usage.period, missing, kind: typeof require }));
}
void main();
`;

const tsconfig = (module: string, moduleResolution: string, files = ["main.ts"]) =>
  JSON.stringify({
    compilerOptions: {
      target: "ES2022",
      module,
      moduleResolution,
      strict: true,
      noUncheckedIndexedAccess: true,
      exactOptionalPropertyTypes: true,
      skipLibCheck: false,
      types: ["node"],
      outDir: "dist",
    },
    files,
  });

let dir: string;
let stack: TestStack;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "troupe-consumer-"));
  stack = await startTestStack("package");
});
afterAll(async () => {
  await stack?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("@troupe/client as a packed package", () => {
  it("packs, installs offline, typechecks (NodeNext and Bundler, strict) and runs against the local stack, as ESM and as CommonJS", async () => {
    const packed = await sh("npm", ["pack", "--silent", "--pack-destination", dir], join(ROOT, "client"));
    expect(packed.code, packed.out).toBe(0);
    const tarball = readdirSync(dir).find((f) => f.endsWith(".tgz"));
    expect(tarball).toBeDefined();

    writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
    const installed = await sh("npm", ["install", "--offline", "--no-audit", "--no-fund", "--ignore-scripts", `./${tarball}`], dir);
    expect(installed.code, installed.out).toBe(0);
    const manifest = JSON.parse(readFileSync(join(dir, "node_modules/@troupe/client/package.json"), "utf8")) as { dependencies?: object };
    expect(manifest.dependencies ?? {}).toEqual({});
    // The compiler and Node's types come from the repo: no network.
    mkdirSync(join(dir, "node_modules/@types"), { recursive: true });
    for (const name of ["typescript", "@types/node", "undici-types"]) symlinkSync(repoModule(name), join(dir, "node_modules", name), "dir");

    writeFileSync(join(dir, "main.ts"), PROGRAM);
    const tsc = join(dir, "node_modules/typescript/bin/tsc");
    writeFileSync(join(dir, "tsconfig.bundler.json"), tsconfig("ESNext", "Bundler"));
    writeFileSync(join(dir, "check.cts"), CJS_PROGRAM);
    writeFileSync(join(dir, "tsconfig.json"), tsconfig("NodeNext", "NodeNext", ["main.ts", "check.cts"]));
    const [bundler, nodenext] = await Promise.all([
      sh(process.execPath, [tsc, "-p", "tsconfig.bundler.json", "--noEmit"], dir),
      sh(process.execPath, [tsc, "-p", "tsconfig.json"], dir),
    ]);
    expect(bundler.out).toBe("");
    expect(bundler.code).toBe(0);
    expect(nodenext.out).toBe("");
    expect(nodenext.code).toBe(0);

    const image = join(dir, "dog.png");
    writeFileSync(image, await referencePng("#36c"));
    const ran = await sh(process.execPath, [join(dir, "dist/main.js"), stack.apiUrl, stack.apiKey, image], dir);
    expect(ran.code, ran.out).toBe(0);
    const result = JSON.parse(ran.out.trim().split("\n").at(-1) ?? "{}") as { status: string; seen: string[]; png: number[]; subject: string; gone: boolean };
    expect(result.status).toBe("succeeded");
    expect(result.seen.at(-2)).toBe("succeeded");
    expect(result.seen.at(-1)).toBe("not_found");
    expect(result).toMatchObject({ subject: "sub_", gone: true });
    expect(String.fromCharCode(...result.png)).toBe("PNG");

    const cjs = await sh(process.execPath, [join(dir, "dist/check.cjs"), stack.apiUrl, stack.apiKey], dir);
    expect(cjs.code, cjs.out).toBe(0);
    expect(JSON.parse(cjs.out.trim())).toEqual({ period: expect.stringMatching(/^\d{4}-\d{2}$/), missing: "invalid_request", kind: "function" });
  });

  it("keeps Node APIs out of the core entry point", () => {
    const core = ["index", "client", "http", "run", "upload-file", "retry-fetch", "errors", "types", "content-type"];
    for (const file of core) expect(readFileSync(join(ROOT, "client/dist", `${file}.js`), "utf8")).not.toMatch(/from "node:|require\(/);
  });
});
