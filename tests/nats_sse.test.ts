import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createNode, type Node } from "../examples/nats_sse.ts";
import { until } from "./_nats.ts";
import { serve, type Served } from "./_serve.ts";
import { natsMissing, type NatsServer, startNats } from "./_nats_server.ts";

/** Reads an SSE response's `data:` lines as they come. */
function events(response: Response): { data: unknown[]; stop(): Promise<void> } {
  const data: unknown[] = [];
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  const pumping = (async () => {
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      buffer += chunk.value;
      for (let end = buffer.indexOf("\n\n"); end >= 0; end = buffer.indexOf("\n\n")) {
        const event = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const line = event.split("\n").find((field) => field.startsWith("data: ")); // comments have none
        if (line !== undefined) data.push(JSON.parse(line.slice(6)));
      }
    }
  })().catch(() => {});
  return {
    data,
    async stop() {
      await reader.cancel().catch(() => {});
      await pumping;
    },
  };
}

describe("examples/nats_sse.ts", { skip: natsMissing("tests/nats_sse.test.ts") }, () => {
  let server: NatsServer;
  before(async () => {
    server = await startNats();
  });
  after(async () => {
    await server.stop();
  });

  it("SSE endpoints on separate isolates stream one logical bus: a POST to one reaches every client of each", async () => {
    const nodes: Node[] = [];
    const served: Served[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        const node = await createNode({ servers: server.url, subject: "sse.test" });
        nodes.push(node);
        served.push(await serve((request) => node.fetch(request)));
      }
      const clients = await Promise.all(served.map(async (s) => events(await fetch(s.url))));
      await until(() => nodes.every((node) => node.bus.subscriberCount === 1), 5_000, "a subscriber per isolate");
      for (let i = 0; i < 3; i++) {
        const response = await fetch(served[i].url, { method: "POST", body: JSON.stringify({ from: i }) });
        assert.equal(await response.text(), "1 local subscribers\n");
      }
      await until(() => clients.every((client) => client.data.length === 3), 5_000, "three events at every client");
      for (const client of clients) {
        assert.deepEqual([...client.data].sort((x, y) => (x as { from: number }).from - (y as { from: number }).from), [
          { from: 0 },
          { from: 1 },
          { from: 2 },
        ]);
      }
      const bad = await fetch(served[0].url, { method: "POST", body: "{not json" });
      assert.equal(bad.status, 400);
      await bad.body?.cancel();
      for (const client of clients) await client.stop();
      assert.deepEqual(nodes.map((node) => node.link.stats().gaps), [0, 0, 0]);
    } finally {
      for (const node of nodes) await node.close();
      for (const s of served) await s.close();
    }
  });
});
