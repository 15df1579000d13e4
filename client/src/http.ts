import { errorFromResponse, errorFromThrown } from "./errors.js";

export interface RequestOptions {
  /** JSON body. */
  json?: unknown;
  query?: Record<string, string | number | undefined>;
  headers?: Record<string, string | undefined>;
  signal?: AbortSignal | undefined;
}

/** One API call: JSON in, the body of the expected status out, anything else a TroupeError. */
export type Requester = <T>(method: string, path: string, expect: Expect, options?: RequestOptions) => Promise<{ body: T; status: number; headers: Headers }>;

/** The status (or statuses) that mean success for a call. */
export type Expect = number | readonly number[];

export interface RequesterOptions {
  baseUrl: string;
  apiKey: string;
  fetch: typeof fetch;
}

export function createRequester(options: RequesterOptions): Requester {
  const base = options.baseUrl.replace(/\/+$/, "");
  return async function request<T>(method: string, path: string, expect: Expect, o: RequestOptions = {}) {
    const url = new URL(base + path);
    for (const [k, v] of Object.entries(o.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { authorization: `Bearer ${options.apiKey}` };
    for (const [k, v] of Object.entries(o.headers ?? {})) if (v !== undefined) headers[k] = v;
    if (o.json !== undefined) headers["content-type"] = "application/json";
    let res: Response;
    try {
      res = await options.fetch(url, {
        method,
        headers,
        ...(o.json === undefined ? {} : { body: JSON.stringify(o.json) }),
        ...(o.signal ? { signal: o.signal } : {}),
      });
    } catch (e) {
      throw errorFromThrown(e);
    }
    if (!(typeof expect === "number" ? [expect] : expect).includes(res.status)) throw await errorFromResponse(res);
    const body = (res.status === 204 ? undefined : await res.json()) as T;
    return { body, status: res.status, headers: res.headers };
  };
}
