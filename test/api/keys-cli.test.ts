import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiKeyStore } from "@troupe/shared/records/api-keys";
import { startTestEnv, type TestEnv } from "../../local/test-env.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const TSX = join(ROOT, "node_modules", ".bin", "tsx");
const CLI = join(ROOT, "cli", "keys.ts");

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function keys(args: string[], env: Record<string, string>, cwd = ROOT): Promise<Run> {
  // Only what the CLI needs: no TROUPE_* from the outer environment leaks in.
  const base = { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp" };
  return new Promise((resolve) => {
    execFile(TSX, [CLI, ...args], { cwd, env: { ...base, ...env }, timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

let t: TestEnv;
beforeAll(async () => {
  t = await startTestEnv();
});
afterAll(async () => t?.stop());

describe("keys CLI against configured endpoints", () => {
  it("creates (printing only the key), lists without secrets, revokes", async () => {
    const created = await keys(["create", "--name", "mobile-app", "--monthly-images", "7", "--rate-per-minute", "9"], t.env);
    expect(created.code).toBe(0);
    expect(created.stdout).toMatch(/^trp_key_[0-9a-z]{25}\.[A-Za-z0-9_-]{43}\n$/);
    const key = created.stdout.trim();
    const store = new ApiKeyStore(t.clients.ddb, t.config.TROUPE_KEYS_TABLE);
    const record = await store.verify(key);
    expect(record).toMatchObject({ name: "mobile-app", monthlyImages: 7, ratePerMinute: 9 });

    const listed = await keys(["list"], t.env);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/^ID\s+NAME\s+CREATED\s+REVOKED\s+IMAGES\/MONTH\s+REQ\/MIN/);
    expect(listed.stdout).toContain(record!.keyId);
    expect(listed.stdout).toContain("mobile-app");
    expect(listed.stdout).not.toContain(key.split(".")[1]);
    expect(listed.stdout).not.toContain(record!.keyHash);

    expect((await keys(["revoke", record!.keyId], t.env)).code).toBe(0);
    expect(await store.verify(key)).toBeNull();
    expect((await keys(["list"], t.env)).stdout).toMatch(new RegExp(`${record!.keyId}.*mobile-app\\s+\\S+\\s+\\d{4}-`));
  });

  it("fails clearly on an unknown key id, a missing name and a bad number", async () => {
    const [unknown, noName, badNumber] = await Promise.all([
      keys(["revoke", "key_doesnotexist"], t.env),
      keys(["create"], t.env),
      keys(["create", "--name", "x", "--monthly-images", "lots"], t.env),
    ]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("No key key_doesnotexist");
    expect(noName.code).toBe(2);
    expect(noName.stderr).toContain("--name");
    expect(badNumber.code).toBe(2);
    expect(badNumber.stderr).toContain("--monthly-images");
  });
});

/** The cell under `header` in the row of `keyId`: columns are found by name, so adding one breaks nothing. */
function cell(table: string, keyId: string, header: string): string {
  const [head, ...rows] = table.trimEnd().split("\n");
  const column = [...head.matchAll(/\S+/g)].find((m) => m[0] === header);
  expect(column, `column ${header} in ${head}`).toBeDefined();
  const row = rows.find((r) => r.startsWith(`${keyId} `));
  expect(row, `row of ${keyId}`).toBeDefined();
  return row!.slice(column!.index).split(/\s+/)[0];
}

describe("keys CLI retention", () => {
  it("sets and clears a key's retention, and list shows it", async () => {
    const store = new ApiKeyStore(t.clients.ddb, t.config.TROUPE_KEYS_TABLE);
    const { record } = await store.create({ name: "retained", monthlyImages: 10, ratePerMinute: 10 });
    const shown = async () => {
      const listed = await keys(["list"], t.env);
      expect(listed.code).toBe(0);
      return [cell(listed.stdout, record.keyId, "RETAIN-OUTPUTS"), cell(listed.stdout, record.keyId, "RETAIN-UPLOADS")];
    };
    const set = await keys(["retention", record.keyId, "--outputs-days", "7", "--uploads-days", "1"], t.env);
    expect(set.code).toBe(0);
    expect(set.stdout).toContain("outputs 7 days, uploads 1 days");
    expect((await store.get(record.keyId))?.retention).toEqual({ outputsDays: 7, uploadsDays: 1 });
    expect(await shown()).toEqual(["7d", "1d"]);

    // No flag: back to the bucket's rules.
    expect((await keys(["retention", record.keyId, "--uploads-days", "14"], t.env)).code).toBe(0);
    expect((await store.get(record.keyId))?.retention).toEqual({ uploadsDays: 14 });
    expect((await keys(["retention", record.keyId], t.env)).code).toBe(0);
    expect((await store.get(record.keyId))?.retention).toEqual({});
    expect(await shown()).toEqual(["bucket", "bucket"]);
  });

  it("refuses a value without a lifecycle rule with exit 2 and one line, changing nothing; an unknown key is exit 1", async () => {
    const store = new ApiKeyStore(t.clients.ddb, t.config.TROUPE_KEYS_TABLE);
    const { record } = await store.create({ name: "retained-bad", monthlyImages: 10, ratePerMinute: 10 });
    expect(await store.setRetention(record.keyId, { outputsDays: 3 })).toBe(true);
    const [five, word, unknown] = await Promise.all([
      keys(["retention", record.keyId, "--outputs-days", "5"], t.env),
      keys(["retention", record.keyId, "--uploads-days", "week"], t.env),
      keys(["retention", "key_doesnotexist", "--outputs-days", "7"], t.env),
    ]);
    expect(five).toMatchObject({ code: 2, stdout: "" });
    expect(five.stderr).toBe('--outputs-days must be one of 1, 2, 3, 7, 14 (the bucket has a lifecycle rule for each), got "5"\n');
    expect(word.code).toBe(2);
    expect(word.stderr.trimEnd().split("\n")).toEqual([expect.stringContaining("--uploads-days must be one of 1, 2, 3, 7, 14")]);
    expect((await store.get(record.keyId))?.retention).toEqual({ outputsDays: 3 });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("No key key_doesnotexist");
  });
});

describe("keys CLI with a stopped local stack", () => {
  it("starts dynalite on .data/dynamodb for the command and keeps the keys there", async () => {
    const cwd = mkdtempSync(join(tmpdir(), "troupe-cli-"));
    try {
      mkdirSync(join(cwd, ".data"));
      // The stack file names a dynalite that is no longer running.
      writeFileSync(join(cwd, ".data", "local-stack.json"), JSON.stringify({ apiUrl: "http://127.0.0.1:9", apiKey: "x", endpoints: { dynamodb: "http://127.0.0.1:9" } }));
      const created = await keys(["create", "--name", "offline"], {}, cwd);
      expect(created.code).toBe(0);
      expect(created.stderr).toContain(join(cwd, ".data", "dynamodb"));
      const listed = await keys(["list"], {}, cwd);
      expect(listed.stdout).toContain("offline");
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });
});
