import type { MiddlewareHandler } from "hono";
import { redact, redactQuery } from "../redact.ts";

declare module "hono" {
  interface ContextVariableMap {
    /** The unexpected error behind a 5xx, set by the error handler so the log line can say what it was. */
    failure: Error;
  }
}

export interface AccessLogOptions {
  /** Receives one JSON line per request. @default process.stdout */
  write?: (line: string) => void;
  now?: () => number;
}

export interface AccessLogLine {
  level: "info" | "error";
  method: string;
  path: string;
  query?: string;
  status: number;
  ms: number;
  requestId: string;
  tenant: string | null;
  error?: string;
}

/** One JSON line per request (method, path, status, ms, requestId, tenant), secrets redacted. */
export const accessLog = (options: AccessLogOptions = {}): MiddlewareHandler => {
  const write = options.write ?? ((line: string) => void process.stdout.write(`${line}\n`));
  const now = options.now ?? (() => performance.now());
  return async function accessLog(c, next) {
    const start = now();
    await next();
    const url = new URL(c.req.url);
    const failure = c.get("failure");
    const line: AccessLogLine = {
      level: c.res.status >= 500 ? "error" : "info",
      method: c.req.method,
      path: redact(url.pathname),
      ...(url.search ? { query: redactQuery(url.searchParams) } : {}),
      status: c.res.status,
      ms: Math.round((now() - start) * 10) / 10,
      requestId: c.get("requestId"),
      tenant: c.get("tenantId") ?? null,
      ...(failure ? { error: redact(failure.stack ?? `${failure.name}: ${failure.message}`) } : {}),
    };
    write(JSON.stringify(line));
  };
};
