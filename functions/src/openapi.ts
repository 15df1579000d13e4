import { OpenAPIHono, z } from "@hono/zod-openapi";
import type { ZodError } from "zod";
import { AppError } from "@troupe/shared/errors";

export const ErrorSchema = z
  .object({
    error: z.object({
      code: z.string().openapi({ example: "invalid_request" }),
      message: z.string(),
      details: z.unknown().optional(),
      requestId: z.string(),
    }),
  })
  .openapi("Error");

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: "invalid_request: the body, query or a header does not match the schema or the model's limits",
  401: "unauthorized: missing, malformed, unknown or revoked API key",
  404: "not_found: no such resource for this key",
  409: "not_cancelable, not_redeliverable or idempotency_conflict",
  413: "payload_too_large: body over 64 KiB",
  422: "image_token_mismatch, image_token_invalid, prompt_too_long, unknown_upload, unknown_subject or upload_invalid",
  429: "quota_exceeded or rate_limited; see Retry-After",
  500: "internal_error",
};

/** OpenAPI entries for the given error statuses, all with the one error shape. */
export function errorResponses<S extends keyof typeof ERROR_DESCRIPTIONS>(...statuses: S[]) {
  return Object.fromEntries(
    statuses.map((s) => [s, { description: ERROR_DESCRIPTIONS[s], content: { "application/json": { schema: ErrorSchema } } }]),
  ) as Record<S, { description: string; content: { "application/json": { schema: typeof ErrorSchema } } }>;
}

/** Every authenticated route declares the bearer scheme registered in app.ts. */
export const bearerSecurity = [{ bearer: [] }];

/** Zod issues without the offending input values (which may be large or sensitive). */
const publicIssues = (error: ZodError) => error.issues.map(({ code, path, message }) => ({ code, path, message }));

/** A router whose schema failures become `400 invalid_request` with the zod issues in details. */
export function createRouter(): OpenAPIHono {
  return new OpenAPIHono({
    defaultHook: (result) => {
      if (result.success) return;
      const first = result.error.issues[0];
      const where = first?.path.length ? `${result.target}.${first.path.join(".")}` : result.target;
      throw new AppError("invalid_request", `Invalid ${where}: ${first?.message ?? "does not match the schema"}.`, publicIssues(result.error));
    },
  });
}

/** The Standard Webhooks headers every delivery carries (DESIGN §2). */
const WebhookHeaders = z.object({
  "webhook-id": z.string().openapi({ description: "`<jobId>_<status>`: stable across retries, so drop duplicates by it", example: "gen_0123456789abcdef_succeeded" }),
  "webhook-timestamp": z.string().openapi({ description: "Unix seconds of this attempt; refuse ones far from your clock", example: "1767225600" }),
  "webhook-signature": z.string().openapi({
    description: "`v1,<base64 HMAC-SHA256 of \"id.timestamp.body\">` with the key's secret (base64 after `whsec_`); during a rotation's overlap one per live secret, space-separated",
    example: "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=",
  }),
});

/** Info, servers, security and webhooks of the document served at `/openapi.json`. */
export interface DocumentOptions {
  /** The job object delivered by webhooks (the route's own named schema). */
  jobSchema: z.ZodType;
}

type Documented = Pick<OpenAPIHono, "openAPIRegistry" | "getOpenAPI31Document" | "get">;

/**
 * zod-to-openapi renders `z.literal("x").nullable()` as `{type: ["string","null"], enum: ["x"]}`, which
 * rejects null; a generated client (and Redocly) reads the enum strictly. Adds the missing null.
 */
export function fixNullableEnums(node: unknown): void {
  if (Array.isArray(node)) return node.forEach(fixNullableEnums);
  if (typeof node !== "object" || node === null) return;
  const o = node as { type?: unknown; enum?: unknown[] };
  if (Array.isArray(o.type) && o.type.includes("null") && Array.isArray(o.enum) && !o.enum.includes(null)) o.enum.push(null);
  Object.values(o).forEach(fixNullableEnums);
}

/**
 * Registers the bearer scheme, the webhook and the document route. `servers` is the origin that
 * served the document, so a generated client talks to the deployment it was generated from.
 */
export function documentApp(app: Documented, options: DocumentOptions): void {
  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", {
    type: "http",
    scheme: "bearer",
    description: "An API key from `npm run keys -- create`, sent as `Authorization: Bearer trp_…`.",
  });
  app.openAPIRegistry.registerWebhook({
    method: "post",
    path: "job",
    operationId: "jobFinished",
    summary: "A job reached a terminal state",
    description:
      "POSTed to the job's `webhookUrl` when it succeeds, fails or is canceled; retried with backoff for about a day until a 2xx. Verify the signature with the key's secret (`GET /v1/webhook-secret`) before trusting the body.",
    tags: ["webhooks"],
    security: [],
    request: { headers: WebhookHeaders, body: { content: { "application/json": { schema: options.jobSchema } }, required: true } },
    responses: {
      200: { description: "Received; any 2xx ends the retries" },
      400: { description: "Refused (for example a bad signature); any other status than 2xx is retried" },
    },
  });
  app.openAPIRegistry.registerPath({
    method: "get",
    path: "/openapi.json",
    operationId: "getOpenApiDocument",
    tags: ["health"],
    summary: "This document (no auth)",
    security: [],
    responses: {
      200: { description: "The OpenAPI 3.1 document", content: { "application/json": { schema: z.object({}).passthrough().openapi("OpenApiDocument") } } },
      ...errorResponses(413),
    },
  });
  // Built once, on first request; only `servers` follows the origin that was asked (the Host header
  // is the caller's, so nothing is built or cached per origin).
  let document: Record<string, unknown> | undefined;
  app.get("/openapi.json", (c) => {
    if (!document) {
      document = app.getOpenAPI31Document(config("/")) as unknown as Record<string, unknown>;
      fixNullableEnums(document);
    }
    return c.json({ ...document, servers: servers(new URL(c.req.url).origin) }, 200);
  });
}

const servers = (origin: string) => [{ url: origin, description: "The deployment that served this document" }];

function config(origin: string) {
  return {
    openapi: "3.1.0",
    info: {
      title: "Troupe API",
      version: "1.0.0",
      description:
        "Tuning-free multi-subject image generation (FastComposer). Every error is `{error:{code,message,details?,requestId}}`; every response has an `x-request-id` header.",
      // No public licence: the API is the operator's service, used under the operator's terms.
      license: { name: "Proprietary (the operator's terms)", identifier: "LicenseRef-Proprietary" },
    },
    servers: servers(origin),
    security: bearerSecurity,
    tags: [
      { name: "uploads", description: "Reference photos: a presigned PUT per image" },
      { name: "generations", description: "Jobs: create, poll, list, cancel" },
      { name: "usage", description: "This key's usage and limits" },
      { name: "subjects", description: "Reusable subjects: a photo kept with its cached embedding" },
      { name: "webhooks", description: "Signed job notifications and their secret" },
      { name: "health", description: "Liveness and this document" },
    ],
  };
}
