import { parseArgs } from "node:util";
import { SAFETY_POLICIES, SafetyPolicySchema, safetyPolicyOf, type SafetyPolicy } from "@troupe/shared/contracts/safety";
import { RETENTION_DAYS, type Retention } from "@troupe/shared/contracts/retention";
import type { ApiKeyRecord } from "@troupe/shared/records/api-keys";
import { connectKeyStore, type KeyStoreConnection } from "./key-store-connection.ts";

const USAGE = `Usage:
  npm run -s keys -- create --name <name> [--monthly-images N] [--rate-per-minute N] [--safety block|flag|off]
                                                                                       prints only the new key
  npm run -s keys -- list                                                              id, name, created, revoked, limits, safety, retention
  npm run -s keys -- revoke <keyId>
  npm run -s keys -- safety <keyId> block|flag|off                                     jobs submitted from now on use it
  npm run -s keys -- retention <keyId> [--outputs-days N] [--uploads-days N]           shorter retention (N: 1, 2, 3, 7 or 14;
                                                                                       no flag: the bucket's 30 / 7 days)

Safety policy (default block): block = a flagged output image is never stored, the job reports it withheld;
flag = stored and marked; off = not checked (the operator answers for what is generated).`;

class UsageError extends Error {}
/** A flag's value is wrong: the message alone says what to fix (one line, no usage text after it). */
class BadValueError extends UsageError {}

function optionalInt(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new BadValueError(`--${flag} must be a non-negative integer, got ${JSON.stringify(value)}`);
  return n;
}

interface CreateArgs {
  name: string;
  monthlyImages?: number;
  ratePerMinute?: number;
  safetyPolicy?: SafetyPolicy;
}

function safetyPolicy(value: string | undefined, where: string): SafetyPolicy {
  const parsed = SafetyPolicySchema.safeParse(value);
  if (value === undefined) throw new BadValueError(`${where} is missing: one of ${SAFETY_POLICIES.join(", ")}`);
  if (!parsed.success) throw new BadValueError(`${where} must be one of ${SAFETY_POLICIES.join(", ")}, got ${JSON.stringify(value)}`);
  return parsed.data;
}

/** Checked before connecting, so a typo fails fast and touches nothing. */
function parseCreate(args: string[]): CreateArgs {
  const { values } = parseArgs({
    args,
    options: { name: { type: "string" }, "monthly-images": { type: "string" }, "rate-per-minute": { type: "string" }, safety: { type: "string" } },
  });
  if (!values.name) throw new UsageError("create needs --name <name>");
  return {
    name: values.name,
    monthlyImages: optionalInt("monthly-images", values["monthly-images"]),
    ratePerMinute: optionalInt("rate-per-minute", values["rate-per-minute"]),
    safetyPolicy: values.safety === undefined ? undefined : safetyPolicy(values.safety, "--safety"),
  };
}

async function create(conn: KeyStoreConnection, args: CreateArgs): Promise<void> {
  const { key } = await conn.keys.create({
    name: args.name,
    monthlyImages: args.monthlyImages ?? conn.config.TROUPE_DEFAULT_MONTHLY_IMAGES,
    ratePerMinute: Math.max(1, args.ratePerMinute ?? conn.config.TROUPE_DEFAULT_RATE_PER_MINUTE),
    safetyPolicy: args.safetyPolicy,
  });
  // Only the key on stdout, so `KEY=$(npm run -s keys -- create --name app)` works.
  process.stdout.write(`${key}\n`);
  process.stderr.write(`Created in ${conn.where}. The key is shown once; store it now.\n`);
}

/** A key's retention in days, or `bucket`: no shorter retention, the bucket's lifecycle rule applies. */
const retentionCells = ({ retention }: ApiKeyRecord) => [retention?.outputsDays, retention?.uploadsDays].map((d) => (d ? `${d}d` : "bucket"));

/** Plain aligned columns; never the key or its hash. */
function formatKeyTable(records: ApiKeyRecord[]): string {
  const rows = [
    ["ID", "NAME", "CREATED", "REVOKED", "IMAGES/MONTH", "REQ/MIN", "SAFETY", "RETAIN-OUTPUTS", "RETAIN-UPLOADS"],
    ...records.map((r) => [r.keyId, r.name, r.createdAt, r.revokedAt ?? "-", String(r.monthlyImages), String(r.ratePerMinute), safetyPolicyOf(r), ...retentionCells(r)]),
  ];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  return rows.map((row) => row.map((cell, i) => cell.padEnd(widths[i])).join("  ").trimEnd()).join("\n");
}

async function list(conn: KeyStoreConnection): Promise<void> {
  process.stdout.write(`${formatKeyTable(await conn.keys.list())}\n`);
}

async function revoke(conn: KeyStoreConnection, keyId: string): Promise<boolean> {
  if (!(await conn.keys.revoke(keyId))) {
    process.stderr.write(`No key ${keyId} in ${conn.where}.\n`);
    return false;
  }
  process.stdout.write(`Revoked ${keyId}.\n`);
  return true;
}

async function setSafety(conn: KeyStoreConnection, keyId: string, policy: SafetyPolicy): Promise<boolean> {
  if (!(await conn.keys.setSafetyPolicy(keyId, policy))) {
    process.stderr.write(`No key ${keyId} in ${conn.where}.\n`);
    return false;
  }
  process.stdout.write(`Safety policy of ${keyId} is now ${policy}; jobs already submitted keep theirs.\n`);
  return true;
}

function retentionDays(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!(RETENTION_DAYS as readonly number[]).includes(n)) throw new BadValueError(`--${flag} must be one of ${RETENTION_DAYS.join(", ")} (the bucket has a lifecycle rule for each), got ${JSON.stringify(value)}`);
  return n;
}

function parseRetention(args: string[]): { keyId: string; retention: Retention } {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { "outputs-days": { type: "string" }, "uploads-days": { type: "string" } } });
  if (!positionals[0]) throw new UsageError("retention needs a key id (see `list`)");
  const outputsDays = retentionDays("outputs-days", values["outputs-days"]);
  const uploadsDays = retentionDays("uploads-days", values["uploads-days"]);
  return { keyId: positionals[0], retention: { ...(outputsDays ? { outputsDays } : {}), ...(uploadsDays ? { uploadsDays } : {}) } };
}

async function setRetention(conn: KeyStoreConnection, keyId: string, retention: Retention): Promise<boolean> {
  if (!(await conn.keys.setRetention(keyId, retention))) {
    process.stderr.write(`No key ${keyId} in ${conn.where}.\n`);
    return false;
  }
  const days = (d: number | undefined, fallback: string) => (d ? `${d} days` : fallback);
  process.stdout.write(`Retention of ${keyId}: outputs ${days(retention.outputsDays, "the bucket's rule")}, uploads ${days(retention.uploadsDays, "the bucket's rule")}; objects written from now on.\n`);
  return true;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || !["create", "list", "revoke", "safety", "retention"].includes(command)) {
    process.stderr.write(`${USAGE}\n`);
    return command ? 2 : 0;
  }
  const createArgs = command === "create" ? parseCreate(rest) : undefined;
  if (command === "revoke" && !rest[0]) throw new UsageError("revoke needs a key id (see `list`)");
  if (command === "safety" && !rest[0]) throw new UsageError("safety needs a key id (see `list`) and a policy");
  const policy = command === "safety" ? safetyPolicy(rest[1], "the policy") : undefined;
  const retentionArgs = command === "retention" ? parseRetention(rest) : undefined;
  const conn = await connectKeyStore(process.env, process.cwd());
  try {
    if (retentionArgs) return (await setRetention(conn, retentionArgs.keyId, retentionArgs.retention)) ? 0 : 1;
    if (createArgs) await create(conn, createArgs);
    else if (command === "list") await list(conn);
    else if (policy) return (await setSafety(conn, rest[0], policy)) ? 0 : 1;
    else if (!(await revoke(conn, rest[0]))) return 1;
    return 0;
  } finally {
    await conn.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    const usage = e instanceof UsageError || (e instanceof Error && "code" in e && String(e.code).startsWith("ERR_PARSE_ARGS"));
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n${usage && !(e instanceof BadValueError) ? `${USAGE}\n` : ""}`);
    process.exit(usage ? 2 : 1);
  },
);
