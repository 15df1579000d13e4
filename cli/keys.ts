import { parseArgs } from "node:util";
import type { ApiKeyRecord } from "@troupe/shared/records/api-keys";
import { connectKeyStore, type KeyStoreConnection } from "./key-store-connection.ts";

const USAGE = `Usage:
  npm run -s keys -- create --name <name> [--monthly-images N] [--rate-per-minute N]   prints only the new key
  npm run -s keys -- list                                                              id, name, created, revoked, limits
  npm run -s keys -- revoke <keyId>`;

class UsageError extends Error {}

function optionalInt(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`--${flag} must be a non-negative integer, got ${JSON.stringify(value)}`);
  return n;
}

interface CreateArgs {
  name: string;
  monthlyImages?: number;
  ratePerMinute?: number;
}

/** Checked before connecting, so a typo fails fast and touches nothing. */
function parseCreate(args: string[]): CreateArgs {
  const { values } = parseArgs({
    args,
    options: { name: { type: "string" }, "monthly-images": { type: "string" }, "rate-per-minute": { type: "string" } },
  });
  if (!values.name) throw new UsageError("create needs --name <name>");
  return {
    name: values.name,
    monthlyImages: optionalInt("monthly-images", values["monthly-images"]),
    ratePerMinute: optionalInt("rate-per-minute", values["rate-per-minute"]),
  };
}

async function create(conn: KeyStoreConnection, args: CreateArgs): Promise<void> {
  const { key } = await conn.keys.create({
    name: args.name,
    monthlyImages: args.monthlyImages ?? conn.config.TROUPE_DEFAULT_MONTHLY_IMAGES,
    ratePerMinute: Math.max(1, args.ratePerMinute ?? conn.config.TROUPE_DEFAULT_RATE_PER_MINUTE),
  });
  // Only the key on stdout, so `KEY=$(npm run -s keys -- create --name app)` works.
  process.stdout.write(`${key}\n`);
  process.stderr.write(`Created in ${conn.where}. The key is shown once; store it now.\n`);
}

/** Plain aligned columns; never the key or its hash. */
function formatKeyTable(records: ApiKeyRecord[]): string {
  const rows = [
    ["ID", "NAME", "CREATED", "REVOKED", "IMAGES/MONTH", "REQ/MIN"],
    ...records.map((r) => [r.keyId, r.name, r.createdAt, r.revokedAt ?? "-", String(r.monthlyImages), String(r.ratePerMinute)]),
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

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || !["create", "list", "revoke"].includes(command)) {
    process.stderr.write(`${USAGE}\n`);
    return command ? 2 : 0;
  }
  const createArgs = command === "create" ? parseCreate(rest) : undefined;
  if (command === "revoke" && !rest[0]) throw new UsageError("revoke needs a key id (see `list`)");
  const conn = await connectKeyStore(process.env, process.cwd());
  try {
    if (createArgs) await create(conn, createArgs);
    else if (command === "list") await list(conn);
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
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n${usage ? `${USAGE}\n` : ""}`);
    process.exit(usage ? 2 : 1);
  },
);
