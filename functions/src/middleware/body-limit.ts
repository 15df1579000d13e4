import type { MiddlewareHandler } from "hono";
import { AppError } from "@troupe/shared/errors";

export interface BodyLimitOptions {
  maxBytes: number;
}

/**
 * Rejects bodies over `maxBytes` with `payload_too_large`. Unlike hono/body-limit it does not
 * trust Content-Length: it rejects early on a large declared length, and otherwise counts the
 * bytes actually received, so a lying or absent header cannot smuggle a larger body through.
 */
export const bodyLimit = (options: BodyLimitOptions): MiddlewareHandler => {
  const { maxBytes } = options;
  const tooLarge = () => new AppError("payload_too_large", `The request body is larger than ${maxBytes} bytes.`, { maxBytes });
  return async function bodyLimit(c, next) {
    const declared = Number(c.req.header("content-length"));
    if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge();
    const stream = c.req.raw.body;
    if (!stream) return next();
    const reader = stream.getReader();
    const chunks: Uint8Array[] = [];
    let size = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > maxBytes) {
        await reader.cancel();
        throw tooLarge();
      }
      chunks.push(value);
    }
    const body = new Uint8Array(size);
    let offset = 0;
    for (const chunk of chunks) {
      body.set(chunk, offset);
      offset += chunk.byteLength;
    }
    const headers = new Headers(c.req.raw.headers);
    headers.set("content-length", String(size));
    c.req.raw = new Request(c.req.raw, { body, headers });
    await next();
  };
};
