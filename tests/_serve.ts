/**
 * Serves a fetch handler on a loopback port with whatever the runtime has:
 * `Deno.serve`, `Bun.serve`, or `node:http` with a small Request/Response
 * bridge. Tests only; the library itself needs none of this.
 *
 * @module
 */

import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

/** A running server: its base URL, and how to stop it. */
export interface Served {
  url: string;
  close(): Promise<void>;
}

type Handler = (request: Request) => Response | Promise<Response>;

declare const Deno: {
  serve(
    options: { hostname: string; port: number; onListen(addr: { port: number }): void },
    handler: Handler,
  ): { shutdown(): Promise<void> };
};
declare const Bun: {
  serve(options: { hostname: string; port: number; fetch: Handler }): { port: number; stop(force: boolean): void };
};

/** Serves `handler` on 127.0.0.1 at a free port. */
export function serve(handler: Handler): Promise<Served> {
  if (typeof Deno !== "undefined") {
    return new Promise((resolve) => {
      const server = Deno.serve({
        hostname: "127.0.0.1",
        port: 0,
        onListen: ({ port }) => resolve({ url: `http://127.0.0.1:${port}/`, close: () => server.shutdown() }),
      }, handler);
    });
  }
  if (typeof Bun !== "undefined") {
    const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: handler });
    return Promise.resolve({
      url: `http://127.0.0.1:${server.port}/`,
      close: () => Promise.resolve(server.stop(true)),
    });
  }
  return serveWithNodeHttp(handler);
}

function serveWithNodeHttp(handler: Handler): Promise<Served> {
  const server = createServer(async (req, res) => {
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) {
      for (const one of Array.isArray(value) ? value : [value ?? ""]) headers.append(name, one);
    }
    const chunks: Uint8Array[] = [];
    for await (const chunk of req) chunks.push(chunk);
    const body = req.method === "GET" || req.method === "HEAD" ? undefined : new Blob(chunks as BlobPart[]);
    const response = await handler(new Request(`http://127.0.0.1${req.url}`, { method: req.method, headers, body }));
    res.writeHead(response.status, Object.fromEntries(response.headers));
    if (response.body === null) return void res.end();
    const reader = response.body.getReader();
    res.on("close", () => void reader.cancel().catch(() => {}));
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      // Backpressure: a slow client stops the reads, as it does on Deno and Bun, so the bus sees it lag.
      if (!res.write(chunk.value) && !res.destroyed) {
        await new Promise((resume) => res.once("drain", resume).once("close", resume));
      }
    }
    res.end();
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}/`,
        close: () =>
          new Promise((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}
