import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { isIP, type LookupFunction } from "node:net";
import { MAX_UPLOAD_BYTES, UPLOAD_CONTENT_TYPES, type UploadContentType } from "@troupe/shared/contracts/upload";
import { AppError, UploadInvalidError } from "@troupe/shared/errors";
import { isLoopbackAddress, isPublicAddress } from "@troupe/shared/webhooks/ip-ranges";
import { LOCAL_NAMES, PRIVATE_NAMES, type HostResolver } from "@troupe/shared/webhooks/webhook-url";
import { MAGIC_BYTES, matchesMagic } from "./image-magic.ts";

/**
 * A subject's `imageUrl`, fetched once by the API under the webhook rules (https and public hosts
 * only outside local mode; the host checked after DNS resolution and again at connect time, so a
 * name that re-resolves to a private address between the two is refused; every redirect checked
 * the same way; a time limit) and the upload rules (≤ 10 MiB, JPEG/PNG/WebP by magic bytes).
 */
export interface FetchImageOptions {
  localMode: boolean;
  resolve: HostResolver;
  /** Whole fetch, redirects included. @default 10000 */
  timeoutMs?: number;
  /** @default 3 */
  maxRedirects?: number;
  /** @default 10 MiB, the upload limit */
  maxBytes?: number;
  /** Which resolved addresses may be reached; tests narrow it. @default public, or loopback too in local mode */
  allowAddress?: (ip: string) => boolean;
}

export interface FetchedImage {
  bytes: Uint8Array;
  contentType: UploadContentType;
  /** The URL the bytes came from, after redirects. */
  finalUrl: string;
}

/** Where in the request the problem is, for `details`: a job's `subjects[i].imageUrl`, or POST /v1/subjects' `imageUrl` (no `subject`). */
export interface FetchWhere {
  subject?: number;
  path: (string | number)[];
}

/** The field as a person reads it: `subjects[0].imageUrl`, or `imageUrl`. */
const field = (where: FetchWhere) => where.path.map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? p : `.${p}`)).join("");
const refused = (where: FetchWhere, message: string, reason: string) => new AppError("invalid_request", `${field(where)} ${message}`, { ...where, reason });
const unusable = (where: FetchWhere, message: string, extra: Record<string, unknown>) => new UploadInvalidError(`${field(where)} ${message}`, { ...where, ...extra });

/** The URL's own rules (scheme, credentials, literal and well-known private hosts); the address check comes after DNS. */
function checkUrl(raw: string, options: FetchImageOptions, where: FetchWhere): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw refused(where, "is not a valid URL.", "invalid_url");
  }
  const protocols = options.localMode ? ["https:", "http:"] : ["https:"];
  if (!protocols.includes(url.protocol)) throw refused(where, `must use ${protocols.join(" or ").replace(/:/g, "")}.`, "scheme");
  if (url.username || url.password) throw refused(where, "must not carry credentials.", "credentials");
  const host = hostOf(url);
  if (LOCAL_NAMES.some((re) => re.test(host)) && !options.localMode) throw refused(where, "must not point at a loopback host.", "private_address");
  if (PRIVATE_NAMES.some((re) => re.test(host))) throw refused(where, "must not point at a private or metadata host.", "private_address");
  return url;
}

const hostOf = (url: URL) => url.hostname.toLowerCase().replace(/^\[|\]$/g, "").replace(/\.$/, "");

/** Resolves a host and keeps it only if every address is allowed (so a name with one private address is refused). */
async function allowedAddresses(host: string, options: FetchImageOptions, allow: (ip: string) => boolean, where: FetchWhere): Promise<string[]> {
  if (isIP(host)) {
    if (!allow(host)) throw refused(where, "must not point at a private, loopback, link-local or metadata address.", "private_address");
    return [host];
  }
  if (LOCAL_NAMES.some((re) => re.test(host))) {
    if (!allow("127.0.0.1")) throw refused(where, "must not point at a loopback host.", "private_address");
    return ["127.0.0.1"];
  }
  let addresses: string[];
  try {
    addresses = await options.resolve(host);
  } catch {
    throw refused(where, `host ${host} does not resolve.`, "dns");
  }
  if (!addresses.length) throw refused(where, `host ${host} does not resolve.`, "dns");
  if (!addresses.every(allow)) throw refused(where, `host ${host} resolves to a private, loopback or link-local address.`, "private_address");
  return addresses;
}

/**
 * The socket's own DNS step: resolves again and refuses a disallowed address right before connecting,
 * so the checked name cannot be re-pointed (DNS rebinding) between the check and the connection.
 */
function guardedLookup(options: FetchImageOptions, allow: (ip: string) => boolean, where: FetchWhere): LookupFunction {
  return (hostname, lookupOptions, callback) => {
    allowedAddresses(hostOf(new URL(`http://${hostname.includes(":") ? `[${hostname}]` : hostname}`)), options, allow, where).then(
      (addresses) => {
        const entries = addresses.map((address) => ({ address, family: isIP(address) }));
        const first = entries[0];
        if (!first) return callback(refused(where, "has no allowed address.", "private_address"), "", 4);
        if ((lookupOptions as { all?: boolean }).all) (callback as unknown as (e: null, a: typeof entries) => void)(null, entries);
        else callback(null, first.address, first.family);
      },
      (e: unknown) => callback(e as NodeJS.ErrnoException, "", 4),
    );
  };
}

/** One GET without following redirects; resolves with the response (body unread). */
function get(url: URL, lookup: LookupFunction, signal: AbortSignal): Promise<IncomingMessage> {
  const send = url.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(url, { method: "GET", lookup, signal, headers: { accept: UPLOAD_CONTENT_TYPES.join(", "), "user-agent": "troupe-image-fetch/1" } }, resolve);
    req.on("error", reject);
    req.end();
  });
}

/** Reads a body up to `maxBytes`; undefined when it is longer (the socket is dropped at once). */
async function readCapped(res: IncomingMessage, maxBytes: number): Promise<Uint8Array | undefined> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of res as AsyncIterable<Buffer>) {
    total += chunk.byteLength;
    if (total > maxBytes) {
      res.destroy();
      return undefined;
    }
    chunks.push(chunk);
  }
  return new Uint8Array(Buffer.concat(chunks));
}

const sniff = (bytes: Uint8Array) => UPLOAD_CONTENT_TYPES.find((type) => matchesMagic(type, bytes.subarray(0, MAGIC_BYTES)));

/** Fetches one image URL under the rules above; writes nothing. */
export async function fetchImageUrl(raw: string, options: FetchImageOptions, where: FetchWhere): Promise<FetchedImage> {
  const allow = options.allowAddress ?? ((ip: string) => isPublicAddress(ip) || (options.localMode && isLoopbackAddress(ip)));
  const maxBytes = options.maxBytes ?? MAX_UPLOAD_BYTES;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const signal = AbortSignal.timeout(timeoutMs);
  const lookup = guardedLookup(options, allow, where);

  let url = checkUrl(raw, options, where);
  for (let redirects = 0; ; redirects++) {
    // Checked before connecting (for a clear error) and again by the socket's lookup (against rebinding).
    await allowedAddresses(hostOf(url), options, allow, where);
    let res: IncomingMessage;
    try {
      res = await get(url, lookup, signal);
    } catch (e) {
      if (e instanceof AppError) throw e;
      if (signal.aborted) throw unusable(where, `did not answer within ${timeoutMs / 1000} s.`, { reason: "timeout" });
      throw unusable(where, `could not be fetched (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}).`, { reason: "unreachable" });
    }
    const status = res.statusCode ?? 0;
    if (status >= 300 && status < 400 && res.headers.location) {
      res.resume();
      if (redirects >= (options.maxRedirects ?? 3)) throw unusable(where, "redirects too many times.", { reason: "redirects" });
      // Each hop meets the same rules as the first URL (scheme, credentials, host after DNS and at connect).
      url = checkUrl(new URL(res.headers.location, url).toString(), options, where);
      continue;
    }
    if (status !== 200) {
      res.resume();
      throw unusable(where, `answered HTTP ${status}.`, { reason: "http_status", status });
    }
    const declared = Number(res.headers["content-length"]);
    if (Number.isFinite(declared) && declared > maxBytes) {
      res.destroy();
      throw unusable(where, `is ${declared} bytes; the limit is ${maxBytes}.`, { reason: "too_large", size: declared, limit: maxBytes });
    }
    let bytes: Uint8Array | undefined;
    try {
      bytes = await readCapped(res, maxBytes);
    } catch {
      throw unusable(where, signal.aborted ? `did not finish within ${timeoutMs / 1000} s.` : "broke off while downloading.", { reason: signal.aborted ? "timeout" : "unreachable" });
    }
    if (!bytes) throw unusable(where, `is larger than ${maxBytes} bytes.`, { reason: "too_large", limit: maxBytes });
    if (bytes.byteLength === 0) throw unusable(where, "is empty.", { reason: "empty" });
    const contentType = sniff(bytes);
    if (!contentType) throw unusable(where, "is not a JPEG, PNG or WebP image.", { reason: "not_an_image" });
    return { bytes, contentType, finalUrl: url.toString() };
  }
}
