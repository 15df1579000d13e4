import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServer, type Server } from "node:http";
import { ecsTaskProtection, noTaskProtection } from "./task-protection.ts";

let agent: Server;
let agentUri: string;
let status = 200;
const calls: { method?: string; url?: string; body: unknown }[] = [];

beforeAll(async () => {
  agent = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      calls.push({ method: req.method, url: req.url, body: JSON.parse(body) });
      res.writeHead(status).end("{}");
    });
  });
  await new Promise<void>((r) => agent.listen(0, "127.0.0.1", () => r()));
  const a = agent.address();
  agentUri = `http://127.0.0.1:${typeof a === "object" && a ? a.port : 0}`;
});
afterAll(() => new Promise((r) => agent.close(r)));

describe("ECS task protection", () => {
  it("protects while a job runs and lifts it after, each change sent once", async () => {
    const events: string[] = [];
    const p = ecsTaskProtection(agentUri, 90, (e) => events.push(e));
    await p.set(true);
    await p.set(true);
    await p.set(false);
    expect(calls).toEqual([
      { method: "PUT", url: "/task-protection/v1/state", body: { ProtectionEnabled: true, ExpiresInMinutes: 90 } },
      { method: "PUT", url: "/task-protection/v1/state", body: { ProtectionEnabled: false } },
    ]);
    expect(events).toEqual([]);
  });

  it("logs a refused call and retries it next time instead of failing the job", async () => {
    calls.length = 0;
    const events: string[] = [];
    const p = ecsTaskProtection(agentUri, 90, (e) => events.push(e));
    status = 500;
    await p.set(true);
    status = 200;
    await p.set(true);
    expect(events).toEqual(["task_protection_failed"]);
    expect(calls).toHaveLength(2);
  });

  it("does nothing outside ECS", async () => {
    expect(ecsTaskProtection(undefined, 90, () => undefined)).toBe(noTaskProtection);
  });
});
