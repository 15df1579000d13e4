import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { GetCommand, PutCommand, ScanCommand, UpdateCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
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
}

export interface CreateApiKeyOptions {
  name: string;
  monthlyImages: number;
  ratePerMinute: number;
}

/** Key format `trp_<keyId>.<secret>`: the id finds the record in one read, the secret is checked by hash. */
const KEY_PATTERN = /^trp_(key_[0-9a-z]{25})\.([A-Za-z0-9_-]{43})$/;

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");
export const newWebhookSecret = () => `whsec_${randomBytes(24).toString("base64")}`;

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
    };
    await this.ddb.send(new PutCommand({ TableName: this.table, Item: record, ConditionExpression: "attribute_not_exists(keyId)" }));
    return { key, record };
  }

  /** The live record for a presented key, or null when it is malformed, unknown or revoked. */
  async verify(presented: string): Promise<ApiKeyRecord | null> {
    const match = KEY_PATTERN.exec(presented);
    if (!match) return null;
    const record = await this.get(match[1]);
    if (!record || record.revokedAt) return null;
    const a = Buffer.from(record.keyHash, "hex");
    const b = Buffer.from(sha256(presented), "hex");
    return a.length === b.length && timingSafeEqual(a, b) ? record : null;
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

  /** Returns false when there is no such key. Revoking twice keeps the first revocation time. */
  async revoke(keyId: string): Promise<boolean> {
    try {
      await this.ddb.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { keyId },
          UpdateExpression: "SET revokedAt = if_not_exists(revokedAt, :now)",
          ConditionExpression: "attribute_exists(keyId)",
          ExpressionAttributeValues: { ":now": new Date().toISOString() },
        }),
      );
      return true;
    } catch (e) {
      if (isConditionFailed(e)) return false;
      throw e;
    }
  }

  async rotateWebhookSecret(keyId: string): Promise<string> {
    const secret = newWebhookSecret();
    await this.ddb.send(
      new UpdateCommand({
        TableName: this.table,
        Key: { keyId },
        UpdateExpression: "SET webhookSecret = :s",
        ConditionExpression: "attribute_exists(keyId)",
        ExpressionAttributeValues: { ":s": secret },
      }),
    );
    return secret;
  }
}
