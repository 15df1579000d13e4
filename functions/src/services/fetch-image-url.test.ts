import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { referencePng } from "../../../test/support/seed-jobs.ts";
import { fetchImageUrl, type FetchImageOptions } from "./fetch-image-url.ts";

/** A local image host: each path answers as scripted; every request is counted by path. */
let server: Server;
let base: string;
let png: Buffer;
const hits: string[] = [];
const routes: Record<string, (req: IncomingMessage, res: ServerResponse) => void> = {
  "/a.png": (_, res) => res.writeHead(200, { "content-type": "image/png" }).end(png),
  "/text": (_, res) => res.writeHead(200, { "content-type": "image/png" }).end("not an image at all"),
  "/big": (_, res) => res.writeHead(200, { "content-length": String(png.byteLength) }).end(png),
  "/big-chunked": (_, res) => {
    res.writeHead(200);
    res.write(png.subarray(0, 60));
    res.end(png.subarray(60));
  },
  "/missing": (_, res) => res.writeHead(404).end(),
  "/to-a": (_, res) => res.writeHead(302, { location: "/a.png" }).end(),
  "/loop": (_, res) => res.writeHead(302, { location: "/loop" }).end(),
  "/hang": () => undefined,
};

beforeAll(async () => {
  png = await referencePng("#36c");
  server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    hits.push(path);
    if (path === "/to-private") return res.writeHead(302, { location: `http://127.0.0.2:${(server.address() as AddressInfo).port}/a.png` }).end();
    routes[path]?.(req, res);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => {
  server.closeAllConnections();
  return new Promise((r) => server.close(r));
});

const where = { subject: 0, path: ["subjects", 0, "imageUrl"] };
const noDns = async (host: string): Promise<string[]> => {
  throw new Error(`no DNS in tests (${host})`);
};
const local = (o: Partial<FetchImageOptions> = {}): FetchImageOptions => ({ localMode: true, resolve: noDns, ...o });
const hosted = (o: Partial<FetchImageOptions> = {}): FetchImageOptions => ({ localMode: false, resolve: noDns, ...o });
/** Only 127.0.0.1 counts as "public" here, so 127.0.0.2 plays the private network. */
const onlyDotOne = (ip: string) => ip === "127.0.0.1";
const failure = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e as { code: string; message: string; details: { reason: string } });

describe("fetchImageUrl", () => {
  it("fetches an image once and types it by its magic bytes (following a redirect)", async () => {
    hits.length = 0;
    const image = await fetchImageUrl(`${base}/to-a`, local(), where);
    expect(image.contentType).toBe("image/png");
    expect(Buffer.from(image.bytes).equals(png)).toBe(true);
    expect(hits).toEqual(["/to-a", "/a.png"]);
  });

  describe("refuses what the webhook rules refuse (invalid_request), before connecting", () => {
    it.each([
      ["http outside local mode", `http://example.test/a.png`, hosted(), "scheme"],
      ["ftp anywhere", `ftp://127.0.0.1/a.png`, local(), "scheme"],
      ["credentials", `https://user:pw@example.test/a.png`, hosted(), "credentials"],
      ["a loopback literal outside local mode", `https://127.0.0.1/a.png`, hosted(), "private_address"],
      ["a private literal", `https://10.1.2.3/a.png`, hosted(), "private_address"],
      ["the metadata service", `https://169.254.169.254/latest/meta-data`, hosted(), "private_address"],
      ["localhost outside local mode", `https://localhost/a.png`, hosted(), "private_address"],
      ["a .internal name", `https://db.internal/a.png`, hosted(), "private_address"],
      ["a name resolving to a private address", `https://evil.test/a.png`, hosted({ resolve: async () => ["93.184.216.34", "192.168.1.10"] }), "private_address"],
      ["a name that does not resolve", `https://nowhere.test/a.png`, hosted(), "dns"],
      ["not a URL", `not a url`, hosted(), "invalid_url"],
    ])("%s", async (_, url, options, reason) => {
      hits.length = 0;
      const e = await failure(fetchImageUrl(url, options, where));
      expect(e).toMatchObject({ code: "invalid_request", details: { reason, subject: 0, path: ["subjects", 0, "imageUrl"] } });
      expect(e?.message).toMatch(/^subjects\[0\]\.imageUrl /);
      expect(hits).toEqual([]);
    });

    it("a redirect into a private range", async () => {
      hits.length = 0;
      const e = await failure(fetchImageUrl(`${base}/to-private`, local({ allowAddress: onlyDotOne }), where));
      expect(e).toMatchObject({ code: "invalid_request", details: { reason: "private_address" } });
      expect(hits).toEqual(["/to-private"]);
    });

    it("a name re-pointed at a private address between the check and the connection (checked at connect time)", async () => {
      hits.length = 0;
      let lookups = 0;
      const rebinding = async () => (lookups++ === 0 ? ["127.0.0.1"] : ["127.0.0.2"]);
      const port = new URL(base).port;
      const e = await failure(fetchImageUrl(`http://rebind.test:${port}/a.png`, local({ resolve: rebinding, allowAddress: onlyDotOne }), where));
      expect(e).toMatchObject({ code: "invalid_request", details: { reason: "private_address" } });
      expect(lookups).toBe(2);
      expect(hits).toEqual([]);
    });
  });

  describe("refuses what the upload rules refuse (upload_invalid)", () => {
    it.each([
      ["bytes that are no image", "/text", {}, "not_an_image"],
      ["a declared size over the limit", "/big", { maxBytes: 100 }, "too_large"],
      ["a streamed size over the limit", "/big-chunked", { maxBytes: 100 }, "too_large"],
      ["an HTTP error", "/missing", {}, "http_status"],
      ["a redirect loop", "/loop", {}, "redirects"],
      ["a host that never answers", "/hang", { timeoutMs: 200 }, "timeout"],
    ])("%s", async (_, path, options, reason) => {
      const e = await failure(fetchImageUrl(`${base}${path}`, local(options), where));
      expect(e).toMatchObject({ code: "upload_invalid", details: { reason, subject: 0 } });
    });
  });
});
