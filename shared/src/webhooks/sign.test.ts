import { describe, expect, it } from "vitest";
import { signWebhook, verifyWebhook } from "./sign.ts";

// The Standard Webhooks reference test vector (its spec's README and libraries' tests).
const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const ID = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const TS = 1614265330;
const BODY = '{"test": 2432232314}';

describe("Standard Webhooks signing", () => {
  it("matches the reference vector", () => {
    expect(signWebhook(SECRET, ID, BODY, TS)["webhook-signature"]).toBe("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
  });

  it("verifies its own signature and rejects tampering and stale timestamps", () => {
    const now = TS * 1000;
    const headers = signWebhook(SECRET, ID, BODY, TS);
    expect(verifyWebhook(SECRET, { ...headers }, BODY, 300, now)).toBe(true);
    expect(verifyWebhook(SECRET, { ...headers }, BODY + " ", 300, now)).toBe(false);
    expect(verifyWebhook("whsec_" + Buffer.from("other").toString("base64"), { ...headers }, BODY, 300, now)).toBe(false);
    expect(verifyWebhook(SECRET, { ...headers }, BODY, 300, now + 301_000)).toBe(false);
    expect(verifyWebhook(SECRET, { ...headers, "webhook-signature": `v1,bad ${headers["webhook-signature"]}` }, BODY, 300, now)).toBe(true);
  });

  it("signs with every live secret during a rotation, and each one verifies on its own", () => {
    const now = TS * 1000;
    const NEW = "whsec_" + Buffer.from("a-new-secret-of-24-bytes").toString("base64");
    const headers = signWebhook([NEW, SECRET], ID, BODY, TS);
    const sigs = headers["webhook-signature"].split(" ");
    expect(sigs).toHaveLength(2);
    expect(sigs[1]).toBe("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    expect(verifyWebhook(SECRET, { ...headers }, BODY, 300, now)).toBe(true);
    expect(verifyWebhook(NEW, { ...headers }, BODY, 300, now)).toBe(true);
    expect(verifyWebhook("whsec_" + Buffer.from("other").toString("base64"), { ...headers }, BODY, 300, now)).toBe(false);
    expect(verifyWebhook(SECRET, { ...signWebhook([NEW], ID, BODY, TS) }, BODY, 300, now)).toBe(false);
    expect(() => signWebhook([], ID, BODY, TS)).toThrow(/at least one secret/);
  });
});
