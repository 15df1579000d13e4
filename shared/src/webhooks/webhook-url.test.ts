import { describe, expect, it } from "vitest";
import { AppError } from "../errors.ts";
import { checkWebhookUrl, type HostResolver } from "./webhook-url.ts";

const dns: Record<string, string[]> = {
  "hooks.example.com": ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"],
  "rebind.example.com": ["93.184.216.34", "127.0.0.1"],
  "metadata.example.com": ["169.254.169.254"],
  "v6private.example.com": ["fd12:3456::1"],
  "mapped.example.com": ["::ffff:10.0.0.7"],
  "empty.example.com": [],
};
const resolve: HostResolver = async (host) => {
  const found = dns[host];
  if (!found) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: "ENOTFOUND" });
  return found;
};

async function rejection(url: string, localMode = false): Promise<AppError | null> {
  try {
    await checkWebhookUrl(url, { localMode, resolve });
    return null;
  } catch (e) {
    if (e instanceof AppError) return e;
    throw e;
  }
}

describe("checkWebhookUrl", () => {
  it("accepts an https URL whose host resolves only to public addresses", async () => {
    expect(await rejection("https://hooks.example.com/troupe?x=1")).toBeNull();
    expect(await rejection("https://93.184.216.34/hook")).toBeNull();
    expect(await rejection("https://[2606:4700:4700::1111]/hook")).toBeNull();
  });

  it.each([
    ["http://hooks.example.com/", "https"],
    ["ftp://hooks.example.com/", "https"],
    ["https://user:pw@hooks.example.com/", "credentials"],
    ["https://localhost/", "loopback"],
    ["https://api.localhost/", "loopback"],
    ["https://127.0.0.1/", "private"],
    ["https://2130706433/", "private"],
    ["https://0x7f.1/", "private"],
    ["https://0177.0.0.1/", "private"],
    ["https://10.0.0.1/", "private"],
    ["https://169.254.169.254/latest/meta-data", "private"],
    ["https://[::1]/", "private"],
    ["https://[::ffff:127.0.0.1]/", "private"],
    ["https://[::ffff:a9fe:a9fe]/", "private"],
    ["https://[fd00:ec2::254]/", "private"],
    ["https://[fe80::1]/", "private"],
    ["https://metadata.google.internal/", "private"],
    ["https://printer.local/", "private"],
    ["https://rebind.example.com/", "resolves to"],
    ["https://metadata.example.com/", "resolves to"],
    ["https://v6private.example.com/", "resolves to"],
    ["https://mapped.example.com/", "resolves to"],
    ["https://nowhere.example.com/", "does not resolve"],
    ["https://empty.example.com/", "does not resolve"],
  ])("refuses %s (%s)", async (url, why) => {
    const e = await rejection(url);
    expect(e?.code).toBe("invalid_request");
    expect(e?.message).toContain(why);
    expect(e?.details).toEqual([expect.objectContaining({ path: ["webhookUrl"] })]);
  });

  it("allows http and loopback in local mode, but still no private or metadata hosts", async () => {
    expect(await rejection("http://127.0.0.1:9999/hook", true)).toBeNull();
    expect(await rejection("http://localhost:9999/hook", true)).toBeNull();
    expect(await rejection("http://[::1]:9999/hook", true)).toBeNull();
    expect(await rejection("http://hooks.example.com/", true)).toBeNull();
    expect((await rejection("http://169.254.169.254/", true))?.code).toBe("invalid_request");
    expect((await rejection("http://192.168.1.10/", true))?.code).toBe("invalid_request");
  });
});
