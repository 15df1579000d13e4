import { z } from "zod";
import { GenerationSpecSchema } from "./generation.ts";

/** The SQS message: the whole validated spec, so the runner needs no extra read to start (DESIGN §3). */
export const QueueMessageSchema = z.strictObject({
  v: z.literal(1),
  jobId: z.string().regex(/^gen_[A-Za-z0-9]+$/),
  tenantId: z.string().min(1),
  spec: GenerationSpecSchema,
  enqueuedAt: z.string(),
});
export type QueueMessage = z.infer<typeof QueueMessageSchema>;
