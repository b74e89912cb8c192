/**
 * One logical bus across any number of isolates and processes: each runs
 * this file with a bus of its own, bridged to a NATS subject, and serves
 *
 *   GET  /   every value sent on any of them, as Server-Sent Events
 *   POST /   a JSON body, sent into the local bus (and so to all of them)
 *
 * Start nats-server (`nats-server -a 127.0.0.1 -p 4222`), then as many as you
 * like, on any runtime, and `curl -N localhost:8001/` while you
 * `curl -d '{"hi":1}' localhost:8002/`:
 *
 *   NATS_URL=127.0.0.1:4222 deno serve -A --port 8001 examples/nats_sse.ts
 *   NATS_URL=127.0.0.1:4222 PORT=8002 bun examples/nats_sse.ts
 *   NATS_URL=127.0.0.1:4222 PORT=8003 node --import tsx examples/nats_sse.ts
 *
 * Over WebSocket instead of TCP (Deno Deploy, browsers), give `NATS_WS`, such
 * as `ws://127.0.0.1:8080` for a server with `websocket { listen:
 * "127.0.0.1:8080", no_tls: true }` in its config. On Node 20 that needs
 * `node --experimental-websocket`; without it `wsconnect()` would wait
 * forever, so `assertWebSocket()` stops with a message saying so. (On Deno
 * Deploy, `@nats-io/transport-deno`'s `connect` works too.)
 *
 * @module
 */

import process from "node:process";
import { createServer } from "node:http";
import { connect } from "@nats-io/transport-node";
import { wsconnect } from "@nats-io/nats-core";
import { Bus } from "../mod.ts"; // in your own project: from "@ron/bus"
import { assertWebSocket, type Bridge, bridge } from "../nats.ts"; // from "@ron/bus/nats"
import { sseResponse } from "../sse.ts"; // from "@ron/bus/sse"

/** One isolate's part of the logical bus: its fetch handler, its bus and bridge, and how to stop. */
export interface Node {
  fetch(request: Request): Promise<Response>;
  bus: Bus<unknown>;
  link: Bridge;
  close(): Promise<void>;
}

/** Connects to NATS (TCP at `servers`, or WebSocket with `websocket: true`) and bridges a new bus to `subject`. */
export async function createNode(options: { servers: string; subject?: string; websocket?: boolean }): Promise<Node> {
  const { servers, subject = "sse.demo", websocket = false } = options;
  if (websocket) assertWebSocket();
  // noEcho: this connection publishes only through the bridge, so the server need not send our own back.
  const nc = websocket ? await wsconnect({ servers, noEcho: true }) : await connect({ servers, noEcho: true });
  const bus = new Bus<unknown>({ capacity: 1024 });
  const link = bridge(bus, nc, { subject });
  await nc.flush();
  return {
    bus,
    link,
    async fetch(request) {
      if (request.method === "POST") {
        let value: unknown;
        try {
          value = await request.json();
        } catch {
          return new Response("Expected a JSON body\n", { status: 400 });
        }
        return new Response(`${bus.send(value)} local subscribers\n`);
      }
      return sseResponse(bus, request);
    },
    async close() {
      await link.close();
      bus.close();
      await nc.close();
    },
  };
}

declare const Deno: unknown;
declare const Bun: unknown;

/** Connects on the first request, from the environment. */
let node: Promise<Node> | undefined;
function handle(request: Request): Promise<Response> {
  node ??= process.env.NATS_WS
    ? createNode({ servers: process.env.NATS_WS, websocket: true })
    : createNode({ servers: process.env.NATS_URL ?? "127.0.0.1:4222" });
  return node.then((ready) => ready.fetch(request));
}

/** `deno serve` and Bun pick up a default export with a `fetch` method. */
export default { fetch: handle, port: Number(process.env.PORT ?? 8000) };

// Node has neither: serve with node:http when this file is the program.
if (typeof Deno === "undefined" && typeof Bun === "undefined" && process.argv[1]?.endsWith("nats_sse.ts")) {
  createServer(async (req, res) => {
    const chunks: Uint8Array[] = [];
    for await (const chunk of req) chunks.push(chunk);
    const body = req.method === "POST" ? new Blob(chunks as BlobPart[]) : undefined;
    const response = await handle(new Request(`http://localhost${req.url}`, { method: req.method, body }));
    res.writeHead(response.status, Object.fromEntries(response.headers));
    const reader = response.body!.getReader();
    res.on("close", () => void reader.cancel());
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) res.write(chunk.value);
    res.end();
  }).listen(Number(process.env.PORT ?? 8000));
}
