import { describe, expect, it } from "vitest";
import { redact, redactQuery } from "./redact.ts";

describe("redact", () => {
  it("removes keys, bearer tokens, webhook secrets and presigned query strings", () => {
    const key = "trp_key_0abc.abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ";
    const text = `Authorization: Bearer ${key} secret whsec_c2VjcmV0 url http://127.0.0.1:4568/b/k?X-Amz-Signature=deadbeef&X-Amz-Credential=AKIA`;
    const out = redact(text);
    expect(out).not.toContain("abcdefghij");
    expect(out).not.toContain("c2VjcmV0");
    expect(out).not.toContain("deadbeef");
    expect(out).not.toContain("AKIA");
    expect(out).toContain("http://127.0.0.1:4568/b/k?[redacted]");
  });

  it("keeps query names and harmless values", () => {
    expect(redactQuery(new URLSearchParams("limit=5&cursor=abc&X-Amz-Signature=s&token=t"))).toBe(
      "limit=5&cursor=abc&X-Amz-Signature=[redacted]&token=[redacted]",
    );
  });
});
