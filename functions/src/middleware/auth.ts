import type { MiddlewareHandler } from "hono";
import { AppError } from "@troupe/shared/errors";
import type { ApiKeyRecord, ApiKeyStore } from "@troupe/shared/records/api-keys";

declare module "hono" {
  interface ContextVariableMap {
    /** The verified key's record (never the key itself). */
    apiKey: ApiKeyRecord;
    /** In v1 each key is its own tenant (DESIGN §2). */
    tenantId: string;
  }
}

export interface AuthOptions {
  keys: Pick<ApiKeyStore, "verify">;
}

const BEARER = /^Bearer +(\S+)$/i;

/** `Authorization: Bearer <key>`; a missing, malformed, unknown or revoked key is `401 unauthorized`. */
export const auth = (options: AuthOptions): MiddlewareHandler => {
  const { keys } = options;
  return async function auth(c, next) {
    const header = c.req.header("authorization");
    if (!header) throw new AppError("unauthorized", "Send your API key as `Authorization: Bearer <key>`.");
    const match = BEARER.exec(header.trim());
    const record = match ? await keys.verify(match[1]) : null;
    if (!record) throw new AppError("unauthorized", "The API key is malformed, unknown or revoked.");
    c.set("apiKey", record);
    c.set("tenantId", record.keyId);
    await next();
  };
};
