import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFile, spawn } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import sharp from "sharp";
import { createTroupeClient } from "@troupe/client";
import { ensureFlagAllTinyBundle } from "../../gpu-runner/src/bundle/tiny-bundle.ts";
import { startTestStack, type TestStack } from "../support/test-stack.ts";
import { plainProgress, ttyProgress } from "../../cli/progress.ts";
import type { Job } from "@troupe/client";
import { referencePng } from "../support/seed-jobs.ts";
import { settled } from "../support/settled.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
let stack: TestStack;
let dataDir: string;
let a: string;
let b: string;

beforeAll(async () => {
  stack = await startTestStack("cli");
  dataDir = stack.dataDir;
  [a, b] = [join(dataDir, "a.png"), join(dataDir, "b.jpg")];
  writeFileSync(a, await referencePng("#36c"));
  writeFileSync(b, await sharp(await referencePng("#c33")).jpeg().toBuffer());
});
afterAll(async () => stack?.stop());

/** The environment of a user who set nothing: no API in the environment. */
const env = () => ({ ...process.env, TROUPE_API_URL: "", TROUPE_API_KEY: "" });
const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
const CLI = ["--import", "tsx", "cli/generate.ts"];
const api = () => ["--api", stack.apiUrl, "--api-key", stack.apiKey];
const small = ["--width", "192", "--height", "128", "--poll-ms", "20"];

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[]): Promise<Result> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd: ROOT, env: env(), timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}
const generate = (args: string[]) => run(process.execPath, [...CLI, ...args]);
/** The command on a pseudo-terminal (util-linux `script`), so it sees a TTY. */
const onTty = (args: string[]) => run("script", ["-qec", [process.execPath, ...CLI, ...args].map(quote).join(" "), "/dev/null"]);

describe("npm run generate", () => {
  it("draws a redrawn progress bar on a TTY and writes the image and heatmaps", async () => {
    const out = join(dataDir, "tty-out");
    const prompt = "a man img and a woman img in a park";
    const r = await onTty(["--prompt", prompt, "--subject", a, "--subject", b, "--box", "0,0,0.5,1", "--box", "0.5,0,1,1", "--steps", "60", "--out", out, ...api(), ...small]);
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).toMatch(/\r\x1b\[2Kqueued…/);
    expect(r.stdout).toMatch(/\r\x1b\[2Kstep \d+\/60 \[[#-]{20}\] \d+% · image 1\/1/);
    expect(r.stdout).toMatch(/\r\x1b\[2Ksaving…/);
    const id = /job (gen_\w+) succeeded/.exec(r.stdout)?.[1];
    for (const file of [`${id}-0.png`, `${id}-attention-0.png`, `${id}-attention-1.png`]) expect(existsSync(join(out, file))).toBe(true);
  });

  it("finds the running local stack, uses the example subjects and prints plain lines off a TTY", async () => {
    const out = join(dataDir, "plain-out");
    const r = await generate(["--prompt", "a man img and a woman img sitting in a park", "--steps", "60", "--data-dir", dataDir, "--out", out, ...small]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toContain("\r");
    expect(r.stderr).not.toContain("starting the local stack");
    const lines = r.stderr.trim().split("\n");
    expect(lines[0]).toBe("queued");
    expect(lines.at(-1)).toBe("saving");
    const steps = lines.filter((l) => /^step \d+\/60 \d+% · image 1\/1( · ETA \d+s)?$/.test(l));
    expect(steps.length).toBeGreaterThan(0);
    expect(steps.length).toBeLessThanOrEqual(11);
    const paths = r.stdout.trim().split("\n").slice(1);
    expect(paths).toHaveLength(3);
    paths.forEach((p) => expect(existsSync(p)).toBe(true));
  });

  it("prints the API's error code and exits 3 when the API refuses the job", async () => {
    const r = await generate(["--prompt", "a dog img", "--subject", a, "--steps", "1000", ...api()]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^error: invalid_request: .+/m);
  });

  it("exits 4 when the API cannot be reached", async () => {
    const r = await generate(["--prompt", "a dog img", "--subject", a, "--api", "http://127.0.0.1:9", "--api-key", "trp_x"]);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/^error: network_error: .+/m);
  });

  // Concurrent: each is a process start and nothing else. The API is unreachable, so exit 2 (not 4)
  // also shows every local input is checked before anything is uploaded.
  it.concurrent.each([
    ["no prompt", () => ["--subject", "x.png"]],
    ["an unknown flag", () => ["--prompt", "a dog img", "--colour", "red"]],
    ["a number that is none", () => ["--prompt", "a dog img", "--steps", "many"]],
    ["a box per subject missing", () => ["--prompt", "a man img and a woman img", "--subject", a, "--subject", b, "--box", "0,0,1,1"]],
    ["more subjects than img words", () => ["--prompt", "a man img in a park", "--subject", a, "--subject", b]],
    ["no img word", () => ["--prompt", "a man in a park", "--subject", a]],
    ["a missing subject", () => ["--prompt", "a dog img", "--subject", "/nonexistent/dog.png"]],
    ["a directory as subject", () => ["--prompt", "a dog img", "--subject", dataDir]],
    ["a subject that is no image", () => ["--prompt", "a dog img", "--subject", join(ROOT, "package.json")]],
  ])("exits 2 with one line on %s", async (_, args) => {
    const r = await generate([...args(), "--api", "http://127.0.0.1:9", "--api-key", "trp_x"]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/^error: .+ \(npm run generate -- --help for usage\)\n$/);
    expect(r.stderr).not.toMatch(/EISDIR|ENOENT|\n {4}at /);
  });

  it("cancels the job on Ctrl-C", async () => {
    const child = spawn(process.execPath, [...CLI, "--prompt", "a dog img", "--subject", a, "--steps", "150", ...api(), ...small], { cwd: ROOT, env: env() });
    let stderr = "";
    let interrupted = false;
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString();
      // Once: a second Ctrl-C means "quit now" without waiting for the cancel.
      if (!interrupted && /step [1-9]/.test(stderr)) interrupted = child.kill("SIGINT");
    });
    const code = await new Promise<number | null>((r) => child.once("exit", r));
    expect(code, stderr).toBe(130);
    expect(stderr).toMatch(/error: canceled: .+\(job (gen_\w+)\)/);
    const id = /\(job (gen_\w+)\)/.exec(stderr)![1];
    const client = createTroupeClient({ baseUrl: stack.apiUrl, apiKey: stack.apiKey });
    const job = await settled(client, id);
    expect(job.status).toBe("canceled");
  });
});

describe("npm run generate on a bundle whose safety checker flags every image (policy block)", () => {
  let flagged: TestStack;
  beforeAll(async () => {
    flagged = await startTestStack("cli-flagged", { TROUPE_BUNDLE: await ensureFlagAllTinyBundle() });
  }, 120_000);
  afterAll(async () => flagged?.stop());

  it("says which images were withheld instead of writing fewer files silently", async () => {
    const out = join(flagged.dataDir, "out");
    const r = await generate(["--prompt", "a dog img", "--subject", a, "--num-images", "2", "--steps", "2", "--out", out, "--api", flagged.apiUrl, "--api-key", flagged.apiKey, ...small]);
    expect(r.code, r.stderr).toBe(0);
    const [done, ...rest] = r.stdout.trim().split("\n");
    expect(done).toMatch(/^job gen_\w+ succeeded/);
    expect(rest.slice(0, 2)).toEqual(["image 1 of 2 withheld (safety)", "image 2 of 2 withheld (safety)"]);
    // Only the heatmap is written: no image file for a withheld output.
    expect(rest.slice(2).map((p) => p.split("/").at(-1))).toEqual([expect.stringMatching(/-attention-0\.png$/)]);
  });
});

describe("progress views", () => {
  it("says which image of how many, the percentage and an ETA from the job's own pace", () => {
    let now = 0;
    const chunks: string[] = [];
    const view = plainProgress({ isTTY: false, write: (c: string) => chunks.push(c) }, () => now);
    view.update(job("running", 0, 40, 2));
    now = 10_000;
    view.update(job("running", 10, 40, 2));
    now = 25_000;
    view.update(job("running", 25, 40, 2));
    expect(chunks).toEqual(["step 0/40 0% · image 1/2\n", "step 10/40 25% · image 1/2 · ETA 30s\n", "step 25/40 62% · image 2/2 · ETA 15s\n"]);
  });

  const job = (status: Job["status"], step: number, totalSteps = 50, numImages = 1) =>
    ({ status, progress: { step, totalSteps }, input: { numImages }, queue: null }) as unknown as Job;
  const sink = (isTTY: boolean) => {
    const chunks: string[] = [];
    return { chunks, stream: { isTTY, write: (c: string) => chunks.push(c) } };
  };

  it("prints each phase once and steps at most every ~10% off a TTY", () => {
    const { chunks, stream } = sink(false);
    const view = plainProgress(stream);
    [job("queued", 0), job("queued", 0), ...Array.from({ length: 50 }, (_, i) => job("running", i)), job("running", 50)].forEach(view.update);
    view.saving();
    expect(chunks.filter((c) => c.startsWith("step")).length).toBe(10);
    expect(chunks[0]).toBe("queued\n");
    expect(chunks.filter((c) => c === "saving\n")).toHaveLength(1);
  });

  it("redraws one line on a TTY and ends it once", () => {
    const { chunks, stream } = sink(true);
    const view = ttyProgress(stream);
    [job("queued", 0), job("running", 25), job("running", 25), job("running", 50)].forEach(view.update);
    view.saving();
    view.done();
    expect(chunks).toEqual(["\r\x1b[2Kqueued…", "\r\x1b[2Kstep 25/50 [##########----------] 50% · image 1/1", "\r\x1b[2Ksaving…", "\n"]);
  });
});
