import { lookup } from "node:dns/promises";
import { isIP, type LookupFunction } from "node:net";
import { AppError } from "../errors.ts";
import { isLoopbackAddress, isPublicAddress } from "./ip-ranges.ts";

/** Resolves a host name to every address it has (injectable so tests need no DNS). */
export type HostResolver = (hostname: string) => Promise<string[]>;

/** DNS with a deadline: a slow resolver must not stall a submission or a webhook delivery. */
export const dnsResolver: HostResolver = async (hostname) => {
  const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`DNS lookup of ${hostname} timed out`)), 3000).unref());
  const addresses = await Promise.race([lookup(hostname, { all: true, verbatim: true }), timeout]);
  return addresses.map((a) => a.address);
};

export interface WebhookUrlOptions {
  /** Local mode (TROUPE_LOCAL_MODE) also allows http and loopback hosts. */
  localMode: boolean;
  resolve: HostResolver;
}

/** Names that always mean this machine, the local network or a cloud metadata service (webhooks and image URLs). */
export const LOCAL_NAMES = [/^localhost$/, /\.localhost$/];
export const PRIVATE_NAMES = [/\.local$/, /\.internal$/, /^metadata$/, /^instance-data$/, /\.home\.arpa$/];

const invalid = (message: string) =>
  new AppError("invalid_request", message, [{ code: "custom", path: ["webhookUrl"], message }]);

/**
 * A webhook URL must be https and reach a public host, checked on the literal and again on every
 * address its name resolves to (so `evil.example → 127.0.0.1` is refused too). The sender repeats
 * it at every attempt and again at connect time (`webhookConnectLookup`), since DNS can change in between.
 */
export async function checkWebhookUrl(raw: string, options: WebhookUrlOptions): Promise<void> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw invalid("webhookUrl is not a valid URL.");
  }
  const allowedProtocols = options.localMode ? ["https:", "http:"] : ["https:"];
  if (!allowedProtocols.includes(url.protocol)) throw invalid("webhookUrl must use https.");
  if (url.username || url.password) throw invalid("webhookUrl must not carry credentials.");

  // WHATWG URL already turned decimal/hex/octal IPv4 forms into dotted quads.
  const host = url.hostname.toLowerCase().replace(/^\[|\]$/g, "").replace(/\.$/, "");
  const allowed = (ip: string) => isPublicAddress(ip) || (options.localMode && isLoopbackAddress(ip));

  if (isIP(host)) {
    if (!allowed(host)) throw invalid("webhookUrl must not point at a private, loopback, link-local or metadata address.");
    return;
  }
  if (LOCAL_NAMES.some((re) => re.test(host))) {
    if (options.localMode) return;
    throw invalid("webhookUrl must not point at a loopback host.");
  }
  if (PRIVATE_NAMES.some((re) => re.test(host))) throw invalid("webhookUrl must not point at a private or metadata host.");

  let addresses: string[];
  try {
    addresses = await options.resolve(host);
  } catch {
    throw invalid(`webhookUrl host ${host} does not resolve.`);
  }
  if (addresses.length === 0) throw invalid(`webhookUrl host ${host} does not resolve.`);
  if (!addresses.every(allowed)) throw invalid(`webhookUrl host ${host} resolves to a private, loopback or link-local address.`);
}

/**
 * The socket's own DNS step for a webhook POST: resolves again and refuses a disallowed address
 * right before connecting, so a name checked a moment earlier cannot be re-pointed at a private
 * address (DNS rebinding). IP literals never reach a lookup; `checkWebhookUrl` already judged them.
 */
export function webhookConnectLookup(options: WebhookUrlOptions): LookupFunction {
  const allowed = (ip: string) => isPublicAddress(ip) || (options.localMode && isLoopbackAddress(ip));
  return (hostname, lookupOptions, callback) => {
    const host = hostname.toLowerCase().replace(/\.$/, "");
    const resolved = LOCAL_NAMES.some((re) => re.test(host)) ? Promise.resolve(["127.0.0.1"]) : options.resolve(host);
    resolved.then(
      (addresses) => {
        const bad = addresses.find((ip) => !allowed(ip));
        if (bad || !addresses.length) {
          const error = Object.assign(new Error(`webhook host ${host} resolves to ${bad ?? "nothing"}, which is not allowed`), { code: "EADDRNOTALLOWED" });
          return callback(error, "", 4);
        }
        const entries = addresses.map((address) => ({ address, family: isIP(address) }));
        if ((lookupOptions as { all?: boolean }).all) (callback as unknown as (e: null, a: typeof entries) => void)(null, entries);
        else callback(null, entries[0]!.address, entries[0]!.family);
      },
      (e: unknown) => callback(Object.assign(e instanceof Error ? e : new Error(String(e)), { code: "ENOTFOUND" }), "", 4),
    );
  };
}
