import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import sharp from "sharp";
import { startTestStack, type TestStack } from "../support/test-stack.ts";
import { referencePng } from "../support/seed-jobs.ts";

/**
 * The README's curl walkthrough, read from the README itself (between its walkthrough markers) and
 * run verbatim with bash against a local stack, from a folder laid out like the repository root
 * (`.data/local-stack.json`, `a.jpg`, `b.jpg`), so the two cannot drift.
 */
const README = fileURLToPath(new URL("../../README.md", import.meta.url));

export function walkthrough(markdown: string): string {
  const match = /<!-- walkthrough:start -->\n([\s\S]*?)<!-- walkthrough:end -->/.exec(markdown);
  if (!match?.[1]) throw new Error("README.md has no walkthrough markers");
  // An indented code block: every line starts with 4 spaces (or is empty).
  return match[1]
    .split("\n")
    .map((line) => {
      if (line.trim() && !line.startsWith("    ")) throw new Error(`Not part of the code block: ${line}`);
      return line.slice(4);
    })
    .join("\n");
}

let stack: TestStack;
let cwd: string;
beforeAll(async () => {
  stack = await startTestStack("readme");
  cwd = mkdtempSync(join(tmpdir(), "troupe-readme-"));
  symlinkSync(stack.dataDir, join(cwd, ".data"), "dir");
  writeFileSync(join(cwd, "a.jpg"), await sharp(await referencePng("#36c")).jpeg().toBuffer());
  writeFileSync(join(cwd, "b.jpg"), await sharp(await referencePng("#c33")).jpeg().toBuffer());
});
afterAll(async () => {
  await stack?.stop();
  rmSync(cwd, { recursive: true, force: true });
});

describe("the README's curl walkthrough", () => {
  it("runs verbatim with bash and ends with a PNG on disk", async () => {
    const script = walkthrough(readFileSync(README, "utf8"));
    expect(script).toContain("curl");
    // No hard-coded port, no placeholder left to fill in (comments may show sample output).
    const commands = script.split("\n").filter((l) => !l.trim().startsWith("#"));
    for (const line of commands) expect(line).not.toMatch(/8787|…|[^\x00-\x7f]/);
    const { code, stdout, stderr } = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile("bash", ["-euo", "pipefail", "-c", script], { cwd, timeout: 120_000 }, (error, stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr }),
      );
    });
    expect(code, stderr).toBe(0);
    const file = stdout.trim().split("\n").at(-1) ?? "";
    expect(file).toMatch(/^gen_\w+\.png$/);
    const png = readFileSync(join(cwd, file));
    expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    expect((await sharp(png).metadata()).format).toBe("png");
  });
});
