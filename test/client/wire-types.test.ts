import { describe, expect, expectTypeOf, it } from "vitest";
import type { z } from "zod";
import type * as Client from "@troupe/client";
import type { CreateGenerationSchema, JobSchema } from "@troupe/shared/contracts/generation";
import type { CreateUploadSchema, UploadSchema } from "@troupe/shared/contracts/upload";
import type { ErrorCode } from "@troupe/shared/errors";
import type { UsageSchema } from "../../functions/src/routes/usage/schema.ts";
import type { SecretSchema } from "../../functions/src/routes/webhook-secret/schema.ts";
import type { DeliveryListSchema, DeliverySchema, RedeliverySchema } from "../../functions/src/routes/deliveries/schema.ts";
import type { CreateSubjectSchema, SubjectListSchema, SubjectSchema } from "../../functions/src/routes/subjects/schema.ts";

/**
 * The client package's hand-written wire types against the server's zod schemas, both ways: what a
 * client may send is what the server accepts (`z.input`), what it reads is what the server emits
 * (`z.output`). These are checked by tsc (`npm run typecheck`), so a schema change without the same
 * change in client/src/types.ts fails the build; the runtime assertion keeps vitest honest.
 */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
/** Structural equality after removing `readonly` and `| undefined` on optional keys, which JSON cannot tell apart. */
type Plain<T> = T extends readonly unknown[] ? { -readonly [K in keyof T]: Plain<T[K]> } : T extends object ? { -readonly [K in keyof T]-?: Plain<Exclude<T[K], undefined>> | (undefined extends T[K] ? undefined : never) } : T;
type Same<A, B> = Equal<Plain<A>, Plain<B>>;
/**
 * For a body the client types as a union ("exactly one of", which the server checks with a refine):
 * every member is a body the server accepts, and the union names the same fields.
 */
type Narrows<A, B> = [A] extends [B] ? Equal<keyof Plain<A>, keyof Plain<B>> : false;

const checks = {
  createUpload: true satisfies Same<Client.CreateUploadInput, z.input<typeof CreateUploadSchema>>,
  upload: true satisfies Same<Client.Upload, z.output<typeof UploadSchema>>,
  createGeneration: true satisfies Same<Client.CreateGenerationInput, z.input<typeof CreateGenerationSchema>>,
  job: true satisfies Same<Client.Job, z.output<typeof JobSchema>>,
  usage: true satisfies Same<Client.Usage, z.output<typeof UsageSchema>>,
  webhookSecret: true satisfies Same<Client.WebhookSecret, z.output<typeof SecretSchema>>,
  delivery: true satisfies Same<Client.Delivery, z.output<typeof DeliverySchema>>,
  deliveryList: true satisfies Same<Client.DeliveryList, z.output<typeof DeliveryListSchema>>,
  redelivery: true satisfies Same<Client.Redelivery, z.output<typeof RedeliverySchema>>,
  createSubject: true satisfies Narrows<Client.CreateSubjectInput, z.input<typeof CreateSubjectSchema>>,
  subject: true satisfies Same<Client.Subject, z.output<typeof SubjectSchema>>,
  subjectList: true satisfies Same<Client.SubjectList, z.output<typeof SubjectListSchema>>,
  errorCodes: true satisfies Equal<Client.ApiErrorCode, ErrorCode>,
};

describe("client wire types", () => {
  it("equal the server's schemas (checked by tsc)", () => {
    expect(Object.values(checks).every(Boolean)).toBe(true);
    expectTypeOf<Client.JobStatus>().toEqualTypeOf<z.output<typeof JobSchema>["status"]>();
  });
});
