import { z } from "zod";

/**
 * What a key's safety policy does with an output image the bundle's safety checker flags (DESIGN §2):
 * `block` (default) never stores it and reports it withheld, `flag` stores it and marks it, `off` runs no
 * check at all (the operator then answers for what is generated).
 */
export const SAFETY_POLICIES = ["block", "flag", "off"] as const;
export const SafetyPolicySchema = z.enum(SAFETY_POLICIES);
export type SafetyPolicy = z.infer<typeof SafetyPolicySchema>;

/** A key or job record written before policies existed behaves as the default. */
export const DEFAULT_SAFETY_POLICY: SafetyPolicy = "block";
export const safetyPolicyOf = (record: { safetyPolicy?: SafetyPolicy }): SafetyPolicy => record.safetyPolicy ?? DEFAULT_SAFETY_POLICY;
