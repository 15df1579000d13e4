import type { Readable } from "node:stream";
import { HttpResponse, buildQueryString, type HttpHandler, type HttpHandlerOptions, type HttpRequest } from "@smithy/core/protocols";
import { Agent, errors } from "undici";

export interface UndiciHttpHandlerOptions {
  /** Keep-alive connections per origin (the SDK clients talk to one origin each). */
  connections: number;
  /** Milliseconds to open a connection; undici's default (10 s) when absent. */
  connectionTimeout?: number;
  /** Milliseconds to wait for the response headers; no limit when absent, as with NodeHttpHandler's default. */
  requestTimeout?: number;
}

/** Headers undici refuses or manages itself; `expect: 100-continue` (large S3 uploads) is just an optimisation. */
const DROPPED = new Set(["expect", "connection", "keep-alive", "transfer-encoding", "upgrade"]);

/** undici's own error codes that the SDK's retry classification knows under Node's socket codes or as timeouts. */
const RETRYABLE_CODES: Record<string, string> = {
  UND_ERR_SOCKET: "ECONNRESET",
  UND_ERR_CLOSED: "ECONNRESET",
  UND_ERR_CONNECT_TIMEOUT: "ETIMEDOUT",
  UND_ERR_HEADERS_TIMEOUT: "ETIMEDOUT",
  UND_ERR_BODY_TIMEOUT: "ETIMEDOUT",
};

/**
 * The AWS SDK's request handler on undici instead of `node:http` (NodeHttpHandler): per call it
 * costs less CPU (no ClientRequest/IncomingMessage objects, no per-request socket listeners and
 * timers). Response bodies are undici's Readable, which the SDK's `sdkStreamMixin` wraps as it wraps
 * an IncomingMessage, so S3 GetObject bodies stream and `transformToByteArray()` works.
 */
export class UndiciHttpHandler implements HttpHandler<UndiciHttpHandlerOptions> {
  readonly metadata = { handlerProtocol: "http/1.1" };
  private readonly agent: Agent;
  private readonly config: UndiciHttpHandlerOptions;

  constructor(options: UndiciHttpHandlerOptions) {
    this.config = { ...options };
    this.agent = new Agent({
      connections: options.connections,
      connect: options.connectionTimeout === undefined ? undefined : { timeout: options.connectionTimeout },
      headersTimeout: options.requestTimeout ?? 0,
      bodyTimeout: 0,
    });
  }

  async handle(request: HttpRequest, { abortSignal, requestTimeout }: HttpHandlerOptions = {}): Promise<{ response: HttpResponse }> {
    if (abortSignal?.aborted) throw abortError(abortSignal);
    const query = request.query ? buildQueryString(request.query) : "";
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(request.headers)) if (!DROPPED.has(name.toLowerCase())) headers[name] = value;
    const port = request.port ? `:${request.port}` : "";
    try {
      const res = await this.agent.request({
        origin: `${request.protocol}//${request.hostname}${port}`,
        path: query ? `${request.path}?${query}` : request.path,
        method: request.method as "GET",
        headers,
        body: (request.body ?? null) as string | Uint8Array | Readable | null,
        signal: abortSignal as AbortSignal | undefined,
        headersTimeout: requestTimeout ?? this.config.requestTimeout ?? 0,
      });
      const out: Record<string, string> = {};
      for (const [name, value] of Object.entries(res.headers)) if (value !== undefined) out[name] = Array.isArray(value) ? value.join(", ") : value;
      return { response: new HttpResponse({ statusCode: res.statusCode, headers: out, body: res.body }) };
    } catch (err) {
      throw toSdkError(err, abortSignal);
    }
  }

  updateHttpClientConfig(key: keyof UndiciHttpHandlerOptions, value: number): void {
    // Pool sizes are fixed at construction; the SDK only calls this for logger/socket-timeout hints.
    this.config[key] = value;
  }

  httpHandlerConfigs(): UndiciHttpHandlerOptions {
    return this.config;
  }

  destroy(): void {
    void this.agent.destroy().catch(() => {});
  }
}

/** The SDK's shapes: `AbortError` is never retried, Node socket codes and `TimeoutError` are (isTransientError). */
function toSdkError(err: unknown, abortSignal: HttpHandlerOptions["abortSignal"]): unknown {
  if (abortSignal?.aborted || (err instanceof errors.RequestAbortedError)) return abortError(abortSignal);
  if (!(err instanceof Error)) return err;
  const code = (err as { code?: string }).code ?? "";
  const mapped = RETRYABLE_CODES[code];
  if (mapped) Object.assign(err, { code: mapped, undiciCode: code });
  if (mapped === "ETIMEDOUT") err.name = "TimeoutError";
  return err;
}

function abortError(signal: HttpHandlerOptions["abortSignal"]): Error {
  const reason = (signal as AbortSignal | undefined)?.reason;
  const error = new Error("Request aborted", reason instanceof Error ? { cause: reason } : undefined);
  error.name = "AbortError";
  return error;
}
