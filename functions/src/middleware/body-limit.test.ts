import { request as httpRequest } from "node:http";
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { onError } from "../error-handler.ts";
import { startServer, type StartedServer } from "../handlers/node.ts";
import { bodyLimit } from "./body-limit.ts";

const MAX = 1024;
const app = new Hono();
app.onError(onError);
app.use("*", bodyLimit({ maxBytes: MAX }));
app.post("/echo", async (c) => c.json({ got: await c.req.json(), bytes: (await c.req.arrayBuffer()).byteLength }));
app.get("/echo", (c) => c.json({ ok: true }));
let server: StartedServer;
beforeAll(async () => (server = await startServer(app, { port: 0, hostname: "127.0.0.1" })));
afterAll(() => server.close());

/** A request over a real socket; `chunked` sends the body without Content-Length. */
function send(body: string, chunked: boolean): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (!chunked) headers["content-length"] = String(Buffer.byteLength(body));
    const req = httpRequest(`${server.url}/echo`, { method: "POST", headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString()) as Record<string, unknown> }));
    });
    req.on("error", reject);
    // Two writes, so a chunked body really arrives in pieces.
    req.write(body.slice(0, 10));
    req.end(body.slice(10));
  });
}

describe("bodyLimit over a real HTTP server", () => {
  const small = JSON.stringify({ text: "é".repeat(100) });
  const large = JSON.stringify({ text: "x".repeat(MAX) });

  it.each([false, true])("hands a body within the limit to the route unchanged (chunked: %s)", async (chunked) => {
    const res = await send(small, chunked);
    expect(res).toEqual({ status: 200, json: { got: { text: "é".repeat(100) }, bytes: Buffer.byteLength(small) } });
  });

  it.each([false, true])("refuses a body over the limit with payload_too_large (chunked: %s)", async (chunked) => {
    const res = await send(large, chunked);
    expect(res.status).toBe(413);
    expect(res.json).toMatchObject({ error: { code: "payload_too_large" } });
  });

  it("lets requests without a body through", async () => {
    const res = await fetch(`${server.url}/echo`);
    expect(await res.json()).toEqual({ ok: true });
  });
});
