import { z } from "zod";

export const UPLOAD_CONTENT_TYPES = ["image/jpeg", "image/png", "image/webp"] as const;
export type UploadContentType = (typeof UPLOAD_CONTENT_TYPES)[number];
export const MAX_UPLOAD_BYTES = 10 * 1024 * 1024;

export const CreateUploadSchema = z.strictObject({
  contentType: z.enum(UPLOAD_CONTENT_TYPES),
  contentLength: z.number().int().min(1).max(MAX_UPLOAD_BYTES),
});
export type CreateUpload = z.infer<typeof CreateUploadSchema>;

export const UploadSchema = z.object({
  id: z.string(),
  uploadUrl: z.string(),
  method: z.literal("PUT"),
  headers: z.record(z.string(), z.string()),
  expiresAt: z.string(),
});
