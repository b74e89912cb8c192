import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { connect } from "@nats-io/transport-node";
import { wsconnect } from "@nats-io/nats-core";
import { jetstream } from "@nats-io/jetstream";
import { Bus } from "../mod.ts";
import { assertWebSocket, bridge, type BusLike, type JetStreamClientLike, type NatsConnectionLike } from "../nats.ts";
import { record, until } from "./_nats.ts";
import { natsMissing, type NatsServer, startNats } from "./_nats_server.ts";

/**
 * Compiled by `deno check`, never called: the clients' own types must satisfy
 * the bridge's structural ones, so a user passes them as they are.
 */
export async function typesAgree(): Promise<void> {
  const tcp = await connect({ servers: "127.0.0.1:4222" });
  const ws = await wsconnect({ servers: "ws://127.0.0.1:8080" });
  const connections: NatsConnectionLike[] = [tcp, ws];
  const clients: JetStreamClientLike[] = [jetstream(tcp), jetstream(ws)];
  const bus: BusLike<{ price: number }> = new Bus<{ price: number }>();
  void [connections, clients, bus];
}

const hasWebSocket = typeof (globalThis as { WebSocket?: unknown }).WebSocket === "function";

describe("assertWebSocket()", () => {
  it("throws a message that says what to do when the runtime has no global WebSocket", () => {
    const global = globalThis as { WebSocket?: unknown };
    const saved = Object.getOwnPropertyDescriptor(global, "WebSocket");
    Object.defineProperty(global, "WebSocket", { value: undefined, configurable: true, writable: true });
    try {
      assert.throws(assertWebSocket, {
        name: "Error",
        message: "No global WebSocket in this runtime, so wsconnect() would never settle: on Node 20 run node with " +
          "--experimental-websocket (Node 22 and later have WebSocket), or connect with @nats-io/transport-node",
      });
    } finally {
      if (saved) Object.defineProperty(global, "WebSocket", saved);
      else delete global.WebSocket;
    }
  });

  it("passes whenever the global WebSocket is a class, as it is once Node 20 has --experimental-websocket", () => {
    const global = globalThis as { WebSocket?: unknown };
    const saved = Object.getOwnPropertyDescriptor(global, "WebSocket");
    Object.defineProperty(global, "WebSocket", { value: class WebSocket {}, configurable: true, writable: true });
    try {
      assertWebSocket();
    } finally {
      if (saved) Object.defineProperty(global, "WebSocket", saved);
      else delete global.WebSocket;
    }
  });

  it("passes where the runtime has WebSocket, and throws on Node 20 started without --experimental-websocket", () => {
    if (hasWebSocket) assertWebSocket();
    else assert.throws(assertWebSocket, /--experimental-websocket/);
  });
});

/** Anonymous connections may do anything; "limited" may not subscribe to `denied.>`. */
const PERMISSIONS = `authorization {
  users = [
    { user: "open", password: "open" }
    { user: "limited", password: "limited", permissions: { subscribe: { deny: ["denied.>"] } } }
  ]
}
no_auth_user: "open"
`;

describe("bridge() over each transport", { skip: natsMissing("tests/nats_connections.test.ts") }, () => {
  let server: NatsServer;
  before(async () => {
    server = await startNats({ websocket: true, config: PERMISSIONS });
  });
  after(async () => {
    await server.stop();
  });

  it("a TCP connection from transport-node and a WebSocket one from wsconnect bridge to one bus", async (t) => {
    if (!hasWebSocket) {
      t.skip("no global WebSocket here (Node 20): assertWebSocket() covers this case");
      return;
    }
    assertWebSocket();
    const tcp = await connect({ servers: server.url });
    const ws = await wsconnect({ servers: server.wsUrl! });
    const [a, b] = [new Bus<number>(), new Bus<number>()];
    const [la, lb] = [bridge(a, tcp, { subject: "transports" }), bridge(b, ws, { subject: "transports" })];
    await Promise.all([tcp.flush(), ws.flush()]);
    const [atA, atB] = [record(a.subscribe()), record(b.subscribe())];
    for (let n = 0; n < 100; n++) (n % 2 ? a : b).send(n);
    await until(() => atA.values.length === 100 && atB.values.length === 100, 5_000, "100 values on both");
    for (const reading of [atA, atB]) {
      assert.deepEqual([...reading.values].sort((x, y) => x - y), [...Array(100).keys()]);
    }
    await Promise.all([la.close(), lb.close()]);
    await Promise.all([tcp.close(), ws.close()]);
  });

  it("a subscription the server refuses is no message: nothing counts as received, and sends still go out", async () => {
    const limited = await connect({ servers: server.url, user: "limited", pass: "limited" });
    const watcher = await connect({ servers: server.url });
    try {
      const heard: number[] = [];
      watcher.subscribe("denied.ticks", { callback: () => void heard.push(1) });
      await watcher.flush();
      const refusals: string[] = [];
      void (async () => {
        for await (const status of limited.status()) {
          if (status.type === "error") refusals.push(String(status.error));
        }
      })();
      const bus = new Bus<number>();
      const link = bridge(bus, limited, { subject: "denied.ticks", heartbeat: 0 });
      // The client hands the server's refusal to the subscription's callback, then reports it as a status.
      await until(() => refusals.length === 1, 2_000, "the client to report the refusal");
      assert.match(refusals[0]!, /Permissions Violation for Subscription to "denied.ticks"/);
      bus.send(1);
      await until(() => heard.length === 1, 2_000, "the value at the watcher");
      const stats = link.stats();
      assert.deepEqual([stats.receivedMessages, stats.decodeErrors, stats.published], [0, 0, 1]);
      await link.close();
    } finally {
      await Promise.all([limited.close(), watcher.close()]);
    }
  });
});
