import { execFile } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiKeyStore } from "@troupe/shared/records/api-keys";
import { startTestEnv, type TestEnv } from "../../local/test-env.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const TSX = join(ROOT, "node_modules", ".bin", "tsx");
const CLI = join(ROOT, "cli", "keys.ts");

/** The keys CLI as a child process (async: it talks to the in-process emulators). */
function keys(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  const base = { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp" };
  return new Promise((resolve) => {
    execFile(TSX, [CLI, ...args], { cwd: ROOT, env: { ...base, ...env }, timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

let t: TestEnv;
beforeAll(async () => {
  t = await startTestEnv();
});
afterAll(async () => t?.stop());

describe("the keys CLI's safety policy", () => {
  it("creates a key with a policy (block by default), lists it, and changes it", async () => {
    const store = new ApiKeyStore(t.clients.ddb, t.config.TROUPE_KEYS_TABLE);
    const [flagged, plain] = await Promise.all([keys(["create", "--name", "gallery", "--safety", "flag"], t.env), keys(["create", "--name", "plain"], t.env)]);
    expect([flagged.code, plain.code]).toEqual([0, 0]);
    const record = (await store.verify(flagged.stdout.trim()))!;
    expect(record.safetyPolicy).toBe("flag");
    expect((await store.verify(plain.stdout.trim()))!.safetyPolicy).toBe("block");

    const listed = await keys(["list"], t.env);
    expect(listed.stdout).toMatch(/^ID\s+NAME\s+CREATED\s+REVOKED\s+IMAGES\/MONTH\s+REQ\/MIN\s+SAFETY/);
    expect(listed.stdout).toMatch(new RegExp(`${record.keyId}\\s+gallery\\s.*\\sflag\\b`));

    const set = await keys(["safety", record.keyId, "off"], t.env);
    expect(set).toMatchObject({ code: 0, stdout: `Safety policy of ${record.keyId} is now off; jobs already submitted keep theirs.\n` });
    expect((await store.get(record.keyId))!.safetyPolicy).toBe("off");
  });

  it("refuses an unknown or missing policy (exit 2, one line, nothing written) and an unknown key (exit 1)", async () => {
    const [badCreate, badSet, noPolicy, unknown] = await Promise.all([
      keys(["create", "--name", "x", "--safety", "maybe"], t.env),
      keys(["safety", "key_0000000000000000000000000", "strict"], t.env),
      keys(["safety", "key_0000000000000000000000000"], t.env),
      keys(["safety", "key_0000000000000000000000000", "flag"], t.env),
    ]);
    // The message alone, as for `keys retention`: no usage text after it.
    expect(badCreate).toMatchObject({ code: 2, stdout: "", stderr: '--safety must be one of block, flag, off, got "maybe"\n' });
    expect(badSet).toMatchObject({ code: 2, stdout: "", stderr: 'the policy must be one of block, flag, off, got "strict"\n' });
    expect(noPolicy).toMatchObject({ code: 2, stdout: "", stderr: "the policy is missing: one of block, flag, off\n" });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^No key key_0+ in /m);
    expect((await new ApiKeyStore(t.clients.ddb, t.config.TROUPE_KEYS_TABLE).list()).map((r) => r.name)).not.toContain("x");
  });
});
