import { createServer, type Server } from "node:http";

export interface ReceivedDelivery {
  headers: Record<string, string>;
  body: string;
  status: number;
}

/**
 * A webhook receiver on a fixed loopback port that can be taken down and brought back (the port
 * stays ours in between), answering `respond()`'s status, with optional headers.
 */
export class Receiver {
  readonly received: ReceivedDelivery[] = [];
  respond: () => { status: number; headers?: Record<string, string> } = () => ({ status: 204 });
  private server: Server | null = null;
  port = 0;

  get url(): string {
    return `http://127.0.0.1:${this.port}/hooks`;
  }

  async up(): Promise<void> {
    const server = createServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString()));
      req.on("end", () => {
        const { status, headers } = this.respond();
        this.received.push({ headers: req.headers as Record<string, string>, body, status });
        res.writeHead(status, headers).end();
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.port, "127.0.0.1", () => resolve());
    });
    const address = server.address();
    this.port = typeof address === "object" && address ? address.port : 0;
    this.server = server;
  }

  /** Closes the listener: attempts now fail with ECONNREFUSED. */
  async down(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
}
