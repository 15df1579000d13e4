import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import { HttpRequest } from "@smithy/core/protocols";
import { isTransientError as isSdkTransient } from "@smithy/core/retry";
import { sdkStreamMixin } from "@smithy/core/serde";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UndiciHttpHandler } from "./undici-http-handler.ts";

const isTransientError = (err: Error) => isSdkTransient(err as Parameters<typeof isSdkTransient>[0]);
type Route = (req: IncomingMessage, body: Buffer, res: ServerResponse) => void;
let route: Route = (_req, _body, res) => res.end();
let server: Server;
let port: number;
const handler = new UndiciHttpHandler({ connections: 4 });

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => route(req, Buffer.concat(chunks), res));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  handler.destroy();
  await new Promise((resolve) => server.close(resolve));
});

const request = (init: Partial<ConstructorParameters<typeof HttpRequest>[0]> = {}) =>
  new HttpRequest({ protocol: "http:", hostname: "127.0.0.1", port, method: "GET", path: "/", headers: { host: `127.0.0.1:${port}` }, ...init });

describe("UndiciHttpHandler", () => {
  it("sends method, path, query, headers and body, and returns status, headers and body", async () => {
    let seen: { method?: string; url?: string; header?: string; body?: string } = {};
    route = (req, body, res) => {
      seen = { method: req.method, url: req.url, header: req.headers["x-amz-target"] as string, body: body.toString() };
      res.writeHead(201, { "x-answer": "42", "content-type": "application/json" }).end('{"ok":true}');
    };
    const { response } = await handler.handle(
      request({ method: "POST", path: "/a%20b", query: { k: "v/1", list: ["x", "y"] }, headers: { "x-amz-target": "T.Op", expect: "100-continue" }, body: '{"in":1}' }),
    );
    expect(seen).toEqual({ method: "POST", url: "/a%20b?k=v%2F1&list=x&list=y", header: "T.Op", body: '{"in":1}' });
    expect(response.statusCode).toBe(201);
    expect(response.headers["x-answer"]).toBe("42");
    expect(await sdkStreamMixin(response.body).transformToString()).toBe('{"ok":true}');
  });

  it("streams request bodies in and response bodies out (the S3 object path)", async () => {
    route = (_req, body, res) => {
      res.writeHead(200);
      // Echo in several writes so the answer arrives as a stream, not one chunk.
      for (let i = 0; i < body.length; i += 1000) res.write(body.subarray(i, i + 1000));
      res.end();
    };
    const payload = Buffer.alloc(50_000, 7);
    const { response } = await handler.handle(request({ method: "PUT", headers: { "content-length": String(payload.length) }, body: Readable.from([payload.subarray(0, 20_000), payload.subarray(20_000)]) }));
    const bytes = await sdkStreamMixin(response.body).transformToByteArray();
    expect(Buffer.from(bytes).equals(payload)).toBe(true);
  });

  it("rejects with an AbortError, which the SDK does not retry, when the signal aborts", async () => {
    route = () => {}; // never answers
    const controller = new AbortController();
    const pending = handler.handle(request(), { abortSignal: controller.signal });
    controller.abort();
    const err = await pending.catch((e: unknown) => e as Error);
    expect(err).toMatchObject({ name: "AbortError" });
    expect(isTransientError(err as Error)).toBe(false);
    await expect(handler.handle(request(), { abortSignal: controller.signal })).rejects.toMatchObject({ name: "AbortError" });
  });

  it("fails a refused connection with an error the SDK's retry strategy classifies as transient", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const deadPort = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const err = (await handler.handle(request({ port: deadPort })).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(Error);
    expect(isTransientError(err)).toBe(true);
  });

  it("fails a connection the server drops mid-request with a transient error", async () => {
    route = (req) => req.socket.destroy();
    const err = (await handler.handle(request()).catch((e: unknown) => e)) as Error;
    expect(err).toMatchObject({ code: "ECONNRESET" });
    expect(isTransientError(err)).toBe(true);
  });
});
