import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { ApiKeyStore, keyIdOf, keyMatches, type ApiKeyRecord } from "@troupe/shared/records/api-keys";

export interface KeyCacheOptions {
  /** How long a key record read from DynamoDB is trusted; 0 reads it on every request. */
  ttlMs: number;
  /** Records kept at most (the oldest go first). @default 10_000 */
  maxEntries?: number;
  now?: () => number;
}

interface Entry {
  record: ApiKeyRecord | null;
  expiresAt: number;
}

/**
 * The key store with `verify` answered from memory: each key's record is read once per `ttlMs` per
 * process (concurrent misses share one read) instead of once per request. The presented secret is
 * still hashed and compared on every request; only the record is cached, so a revocation, quota or
 * rate change made elsewhere (the keys CLI, another instance) takes effect within `ttlMs`, and at
 * once for changes made through this store. Unknown keys are cached too, so a flood of made-up key
 * ids costs one read each per TTL, not one per request.
 */
export class CachedApiKeyStore extends ApiKeyStore {
  private readonly entries = new Map<string, Entry>();
  private readonly loading = new Map<string, Promise<ApiKeyRecord | null>>();
  private readonly now: () => number;

  constructor(
    ddb: DynamoDBDocumentClient,
    table: string,
    private readonly options: KeyCacheOptions,
  ) {
    super(ddb, table);
    this.now = options.now ?? Date.now;
  }

  override async verify(presented: string): Promise<ApiKeyRecord | null> {
    const keyId = keyIdOf(presented);
    if (!keyId) return null;
    const entry = this.entries.get(keyId);
    const record = entry && entry.expiresAt > this.now() ? entry.record : await this.load(keyId);
    return keyMatches(record, presented) ? record : null;
  }

  /** Forgets a key's record, so the next request reads it again. */
  invalidate(keyId: string): void {
    this.entries.delete(keyId);
  }

  override async revoke(keyId: string): Promise<boolean> {
    try {
      return await super.revoke(keyId);
    } finally {
      this.invalidate(keyId);
    }
  }

  override async rotateWebhookSecret(...args: Parameters<ApiKeyStore["rotateWebhookSecret"]>): ReturnType<ApiKeyStore["rotateWebhookSecret"]> {
    try {
      return await super.rotateWebhookSecret(...args);
    } finally {
      this.invalidate(args[0]);
    }
  }

  private load(keyId: string): Promise<ApiKeyRecord | null> {
    const pending = this.loading.get(keyId);
    if (pending) return pending;
    const read = this.get(keyId)
      .then((record) => {
        if (this.options.ttlMs > 0) this.remember(keyId, record);
        return record;
      })
      .finally(() => this.loading.delete(keyId));
    this.loading.set(keyId, read);
    return read;
  }

  private remember(keyId: string, record: ApiKeyRecord | null): void {
    this.entries.delete(keyId); // re-inserted last: Map order is then oldest first
    this.entries.set(keyId, { record, expiresAt: this.now() + this.options.ttlMs });
    const max = this.options.maxEntries ?? 10_000;
    for (const oldest of this.entries.keys()) {
      if (this.entries.size <= max) break;
      this.entries.delete(oldest);
    }
  }
}
