import { createHmac, timingSafeEqual } from "node:crypto";

/** Standard Webhooks headers for one delivery (https://www.standardwebhooks.com). */
export interface WebhookHeaders {
  "webhook-id": string;
  "webhook-timestamp": string;
  "webhook-signature": string;
}

const secretBytes = (secret: string) => Buffer.from(secret.startsWith("whsec_") ? secret.slice(6) : secret, "base64");

const signature = (secret: string, id: string, timestamp: number, body: string) =>
  createHmac("sha256", secretBytes(secret)).update(`${id}.${timestamp}.${body}`).digest("base64");

/**
 * Signs `body` as the Standard Webhooks scheme says: HMAC-SHA256 over `id.timestamp.body`, one
 * `v1,<sig>` per secret, space-separated. Several secrets during a rotation's overlap window, so a
 * receiver that still holds the old secret and one that has the new both verify.
 */
export function signWebhook(secrets: string | readonly string[], id: string, body: string, timestamp = Math.floor(Date.now() / 1000)): WebhookHeaders {
  const list = typeof secrets === "string" ? [secrets] : secrets;
  if (list.length === 0) throw new Error("signWebhook needs at least one secret.");
  const sigs = list.map((s) => `v1,${signature(s, id, timestamp, body)}`).join(" ");
  return { "webhook-id": id, "webhook-timestamp": String(timestamp), "webhook-signature": sigs };
}

/**
 * Verifies a delivery the way a receiver should: any `v1,` signature in the space-separated list
 * may match, and the timestamp must be within `toleranceS` of now (replay protection).
 */
export function verifyWebhook(secret: string, headers: Record<string, string | undefined>, body: string, toleranceS = 300, now = Date.now()): boolean {
  const id = headers["webhook-id"];
  const ts = Number(headers["webhook-timestamp"]);
  const sigs = headers["webhook-signature"];
  if (!id || !Number.isInteger(ts) || !sigs || Math.abs(now / 1000 - ts) > toleranceS) return false;
  const expected = Buffer.from(signature(secret, id, ts, body), "base64");
  return sigs.split(" ").some((s) => {
    const [version, value] = s.split(",", 2);
    if (version !== "v1" || !value) return false;
    const given = Buffer.from(value, "base64");
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}
