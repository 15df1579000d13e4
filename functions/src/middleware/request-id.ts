import { randomUUID } from "node:crypto";
import type { MiddlewareHandler } from "hono";

declare module "hono" {
  interface ContextVariableMap {
    /** The caller's x-request-id when it is safe to echo, else a fresh one. */
    requestId: string;
  }
}

export interface RequestIdOptions {
  /** @default "x-request-id" */
  headerName?: string;
  /** @default () => `req_${randomUUID()}` */
  generate?: () => string;
}

/** Safe to echo into headers and logs: no spaces, quotes or control characters. */
const SAFE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export const requestId = (options: RequestIdOptions = {}): MiddlewareHandler => {
  const headerName = options.headerName ?? "x-request-id";
  const generate = options.generate ?? (() => `req_${randomUUID().replaceAll("-", "")}`);
  return async function requestId(c, next) {
    const incoming = c.req.header(headerName);
    const id = incoming && SAFE_ID.test(incoming) ? incoming : generate();
    c.set("requestId", id);
    c.header(headerName, id);
    await next();
    // A handler may have returned its own Response: make sure it carries the id too.
    if (c.res.headers.get(headerName) !== id) c.header(headerName, id);
  };
};
