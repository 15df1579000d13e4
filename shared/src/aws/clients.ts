import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { S3Client } from "@aws-sdk/client-s3";
import { SQSClient } from "@aws-sdk/client-sqs";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import type { AuthScheme, RequestSigner } from "@smithy/types";
import type { ResourceConfig } from "../config.ts";
import { LeanDocumentClient } from "./lean-document-client.ts";
import { UndiciHttpHandler } from "./undici-http-handler.ts";

export interface AwsClients {
  s3: S3Client;
  sqs: SQSClient;
  ddb: DynamoDBDocumentClient;
}

export interface AwsClientOptions {
  /**
   * Open sockets per client: at least the requests the process serves at once times the calls one
   * request makes in parallel (the API: up to 1 + 2 per subject), or callers queue for a socket.
   * @default 128
   */
  maxSockets?: number;
  /**
   * The HTTP client under the SDK: undici (less CPU per call, see undici-http-handler.ts) or the
   * SDK's own `node:http` handler, kept for A/B benchmarks (`bench/api/profile-submit.ts --http node`).
   * @default "undici"
   */
  http?: "undici" | "node";
}

/** Emulators accept any credentials; AWS uses the default provider chain. */
const LOCAL_CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };

/**
 * One HTTP handler per client with keep-alive agents: connections (and TLS sessions on AWS) are
 * reused across calls instead of opened per call, up to `maxSockets` at once.
 */
function keepAliveHandler(maxSockets: number, http: "undici" | "node" = "undici"): NodeHttpHandler | UndiciHttpHandler {
  if (http === "undici") return new UndiciHttpHandler({ connections: maxSockets });
  const agent = { keepAlive: true, maxSockets, maxFreeSockets: maxSockets };
  return new NodeHttpHandler({ httpAgent: new HttpAgent(agent), httpsAgent: new HttpsAgent(agent) });
}

/**
 * The SDK's logger middleware filters every input and output through the schema on every call even
 * with its default no-op logger; we never configure a logger, so it is removed by name. Everything
 * else on the stacks is needed: (de)serializers, signing, retries, content length, host header,
 * the user agent AWS support reads, and recursion detection (the Lambda trace id).
 */
function dropLogger(client: S3Client | SQSClient | DynamoDBClient): void {
  client.middlewareStack.remove("loggerMiddleware");
}

type SignerFactory = (authScheme?: AuthScheme) => Promise<RequestSigner>;

/**
 * The SDK's default `signer` builds a new SignatureV4 on every call, copying the whole client config
 * into it (≈ 0.03 ms of CPU per call here). The signer depends only on the auth scheme the endpoint
 * names (its region, service and scheme), so the SDK's own factory is asked once per scheme and its
 * signer kept: same class, same parameters, same credentials provider (refreshed as before).
 */
export function reuseSigners(client: S3Client | SQSClient | DynamoDBClient): void {
  const config = client.config as { signer: SignerFactory };
  const create = config.signer;
  const signers = new Map<string, Promise<RequestSigner>>();
  config.signer = (authScheme) => {
    const id = `${authScheme?.name}|${authScheme?.signingName}|${authScheme?.signingRegion}|${(authScheme as { signingRegionSet?: string[] } | undefined)?.signingRegionSet}`;
    let signer = signers.get(id);
    if (!signer) {
      signer = create(authScheme);
      signer.catch(() => signers.delete(id)); // a failed build is tried again next call
      signers.set(id, signer);
    }
    return signer;
  };
}

/** Everything we change on each SDK client (see dropLogger and reuseSigners). */
function prepare(client: S3Client | SQSClient | DynamoDBClient): void {
  dropLogger(client);
  reuseSigners(client);
}

/**
 * The same SDK clients in AWS and locally: only endpoints differ (DESIGN §5). Built once per process.
 * S3 and SQS resolve each command's middleware stack once (`cacheMiddleware`) instead of per call;
 * lib-dynamodb refuses that option (its commands capture their own input), so the document client
 * sends single-item reads and writes through a cached base client instead (LeanDocumentClient).
 */
export function createAwsClients(config: ResourceConfig, options: AwsClientOptions = {}): AwsClients {
  const region = config.AWS_REGION;
  const maxSockets = options.maxSockets ?? 128;
  const handler = () => keepAliveHandler(maxSockets, options.http);
  const local = (endpoint: string | undefined) => (endpoint ? { endpoint, credentials: LOCAL_CREDENTIALS } : {});
  const s3 = new S3Client({
    region,
    requestHandler: handler(),
    cacheMiddleware: true,
    ...local(config.TROUPE_S3_ENDPOINT),
    // s3rver speaks path-style only and does not compute the newer default checksums.
    ...(config.TROUPE_S3_ENDPOINT
      ? { forcePathStyle: true, requestChecksumCalculation: "WHEN_REQUIRED", responseChecksumValidation: "WHEN_REQUIRED" }
      : {}),
  });
  const sqs = new SQSClient({ region, requestHandler: handler(), cacheMiddleware: true, ...local(config.TROUPE_SQS_ENDPOINT) });
  for (const client of [s3, sqs]) prepare(client);
  const ddb = new LeanDocumentClient({ region, requestHandler: handler(), ...local(config.TROUPE_DYNAMODB_ENDPOINT) }, prepare);
  return { s3, sqs, ddb };
}

export function destroyAwsClients(clients: AwsClients): void {
  clients.s3.destroy();
  clients.sqs.destroy();
  clients.ddb.destroy();
}
