import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { GetCommand, PutCommand, ScanCommand, UpdateCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { Retention } from "../contracts/retention.ts";
import { DEFAULT_SAFETY_POLICY, type SafetyPolicy } from "../contracts/safety.ts";
import { newId } from "../ids.ts";
import { isConditionFailed } from "./conditional.ts";

export interface ApiKeyRecord {
  keyId: string;
  name: string;
  keyHash: string;
  createdAt: string;
  revokedAt?: string;
  monthlyImages: number;
  ratePerMinute: number;
  webhookSecret: string;
  /** Secrets replaced by a rotation that still sign alongside the current one until `until` (ISO). */
  retiredWebhookSecrets?: { secret: string; until: string }[];
  /** What happens to output images the safety checker flags; absent (keys made before policies): `block`. */
  safetyPolicy?: SafetyPolicy;
  /** Shorter retention for this key's outputs and uploads (contracts/retention.ts); absent: the bucket's rules. */
  retention?: Retention;
}

export interface CreateApiKeyOptions {
  name: string;
  monthlyImages: number;
  ratePerMinute: number;
  /** @default "block" */
  safetyPolicy?: SafetyPolicy;
}

/** Key format `trp_<keyId>.<secret>`: the id finds the record in one read, the secret is checked by hash. */
const KEY_PATTERN = /^trp_(key_[0-9a-z]{25})\.([A-Za-z0-9_-]{43})$/;

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");
export const newWebhookSecret = () => `whsec_${randomBytes(24).toString("base64")}`;

/** The key id a presented key names (no read needed), or null when it does not have a key's shape. */
export const keyIdOf = (presented: string): string | null => KEY_PATTERN.exec(presented)?.[1] ?? null;

/** True when `record` is live (not revoked) and `presented` is its key (hash compared in constant time). */
export function keyMatches(record: ApiKeyRecord | null, presented: string): record is ApiKeyRecord {
  if (!record || record.revokedAt) return false;
  const a = Buffer.from(record.keyHash, "hex");
  const b = Buffer.from(sha256(presented), "hex");
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Every secret a delivery made at `now` is signed with: the current one first, then those still in their overlap window. */
export const liveWebhookSecrets = (record: Pick<ApiKeyRecord, "webhookSecret" | "retiredWebhookSecrets">, now = Date.now()): string[] => [
  record.webhookSecret,
  ...(record.retiredWebhookSecrets ?? []).filter((r) => Date.parse(r.until) > now).map((r) => r.secret),
];

export class ApiKeyStore {
  constructor(
    private readonly ddb: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  /** Creates a key; the plaintext is returned once and stored only as a hash. */
  async create(options: CreateApiKeyOptions): Promise<{ key: string; record: ApiKeyRecord }> {
    const keyId = newId("key");
    const key = `trp_${keyId}.${randomBytes(32).toString("base64url")}`;
    const record: ApiKeyRecord = {
      keyId,
      name: options.name,
      keyHash: sha256(key),
      createdAt: new Date().toISOString(),
      monthlyImages: options.monthlyImages,
      ratePerMinute: options.ratePerMinute,
      webhookSecret: newWebhookSecret(),
      safetyPolicy: options.safetyPolicy ?? DEFAULT_SAFETY_POLICY,
    };
    await this.ddb.send(new PutCommand({ TableName: this.table, Item: record, ConditionExpression: "attribute_not_exists(keyId)" }));
    return { key, record };
  }

  /** The live record for a presented key, or null when it is malformed, unknown or revoked. */
  async verify(presented: string): Promise<ApiKeyRecord | null> {
    const keyId = keyIdOf(presented);
    const record = keyId ? await this.get(keyId) : null;
    return keyMatches(record, presented) ? record : null;
  }

  async get(keyId: string): Promise<ApiKeyRecord | null> {
    const out = await this.ddb.send(new GetCommand({ TableName: this.table, Key: { keyId }, ConsistentRead: true }));
    return (out.Item as ApiKeyRecord | undefined) ?? null;
  }

  async list(): Promise<ApiKeyRecord[]> {
    const items: ApiKeyRecord[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const out = await this.ddb.send(new ScanCommand({ TableName: this.table, ExclusiveStartKey: start }));
      items.push(...((out.Items ?? []) as ApiKeyRecord[]));
      start = out.LastEvaluatedKey;
    } while (start);
    return items.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  /** Sets (or, with `{}`, clears) the key's retention; objects written from then on carry it. False when there is no such key. */
  setRetention(keyId: string, retention: Retention): Promise<boolean> {
    return this.updateExisting(keyId, "SET retention = :v", retention);
  }

  /** Sets the key's safety policy; jobs submitted from then on carry it. Returns false when there is no such key. */
  setSafetyPolicy(keyId: string, policy: SafetyPolicy): Promise<boolean> {
    return this.updateExisting(keyId, "SET safetyPolicy = :v", policy);
  }

  /** Returns false when there is no such key. Revoking twice keeps the first revocation time. */
  revoke(keyId: string): Promise<boolean> {
    return this.updateExisting(keyId, "SET revokedAt = if_not_exists(revokedAt, :v)", new Date().toISOString());
  }

  /** One update of an existing key (`:v` is the value); false when there is no such key. */
  private async updateExisting(keyId: string, updateExpression: string, value: unknown): Promise<boolean> {
    try {
      await this.ddb.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { keyId },
          UpdateExpression: updateExpression,
          ConditionExpression: "attribute_exists(keyId)",
          ExpressionAttributeValues: { ":v": value },
        }),
      );
      return true;
    } catch (e) {
      if (isConditionFailed(e)) return false;
      throw e;
    }
  }

  /**
   * Replaces the signing secret. The old one keeps signing beside the new one for `overlapS`
   * (receivers switch at their own pace); secrets whose window has ended are dropped. Conditional
   * on the secret just read, so two concurrent rotations cannot lose a secret from the window.
   * Returns null when there is no such key.
   */
  async rotateWebhookSecret(keyId: string, overlapS: number, now = Date.now()): Promise<string | null> {
    for (;;) {
      const record = await this.get(keyId);
      if (!record) return null;
      const secret = newWebhookSecret();
      const until = new Date(now + overlapS * 1000).toISOString();
      const retired = [
        ...(record.retiredWebhookSecrets ?? []).filter((r) => Date.parse(r.until) > now),
        ...(overlapS > 0 ? [{ secret: record.webhookSecret, until }] : []),
      ];
      try {
        await this.ddb.send(
          new UpdateCommand({
            TableName: this.table,
            Key: { keyId },
            UpdateExpression: "SET webhookSecret = :s, retiredWebhookSecrets = :r",
            ConditionExpression: "webhookSecret = :old",
            ExpressionAttributeValues: { ":s": secret, ":r": retired, ":old": record.webhookSecret },
          }),
        );
        return secret;
      } catch (e) {
        if (!isConditionFailed(e)) throw e; // another rotation won: read again and rotate on top of it
      }
    }
  }
}
