import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { postWebhook } from "./post-webhook.ts";
import { webhookConnectLookup } from "./webhook-url.ts";

let server: Server;
let port: number;
let received = 0;
beforeAll(async () => {
  server = createServer((req, res) => {
    received++;
    req.resume();
    res.writeHead(204).end();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise((r) => server.close(r)));

// A name that passed the check earlier and now resolves to this machine (DNS rebinding).
const rebound = async () => ["127.0.0.1"];
const headers = { "webhook-id": "gen_x_succeeded", "webhook-timestamp": "1", "webhook-signature": "v1,x" };

describe("postWebhook's connect-time address check", () => {
  it("refuses to connect when the name now resolves to a private address, and sends nothing", async () => {
    const before = received;
    const outcome = await postWebhook(`http://rebind.test:${port}/hook`, headers, "{}", 2000, webhookConnectLookup({ localMode: false, resolve: rebound }));
    expect(outcome).toMatchObject({ ok: false, status: null });
    expect(outcome.error).toMatch(/not allowed/);
    expect(received).toBe(before);
  });

  it("connects through the same lookup when the address is allowed (loopback in local mode)", async () => {
    const outcome = await postWebhook(`http://rebind.test:${port}/hook`, headers, "{}", 2000, webhookConnectLookup({ localMode: true, resolve: rebound }));
    expect(outcome).toMatchObject({ ok: true, status: 204 });
  });
});
