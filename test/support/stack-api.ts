import { waitFor } from "./wait-for.ts";

export interface ApiAnswer {
  status: number;
  body: Record<string, any>;
}

/**
 * JSON calls to a running stack's API as its dev key, and a wait for a job to end. `stack` is read
 * at call time, so a suite can create these before its `beforeAll` starts the stack.
 */
export function stackApi(stack: () => { apiUrl: string; apiKey: string }) {
  const api = async (path: string, init: { method?: string; body?: unknown } = {}): Promise<ApiAnswer> => {
    const { apiUrl, apiKey } = stack();
    const res = await fetch(`${apiUrl}${path}`, {
      method: init.method ?? (init.body ? "POST" : "GET"),
      headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
      body: init.body ? JSON.stringify(init.body) : undefined,
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : null) as Record<string, any> };
  };
  const finished = (id: string) =>
    waitFor(async () => {
      const { body } = await api(`/v1/generations/${id}`);
      return ["succeeded", "failed", "canceled"].includes(body.status) ? body : null;
    }, { what: `job ${id} finished`, timeoutMs: 60_000 });
  return { api, finished };
}
