import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Bus } from "../mod.ts";
import { sseHandler } from "../examples/sse.ts";
import { serve } from "./_serve.ts";

/** Waits until `condition()` holds, polling, or fails after a second. */
async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 5));
  assert.ok(condition(), "timed out");
}

describe("examples/sse.ts", () => {
  it("streams values to a fetch client as Server-Sent Events until the bus closes", async () => {
    const bus = new Bus<{ n: number }>();
    const server = await serve(sseHandler(bus));
    try {
      const response = await fetch(server.url);
      assert.equal(response.headers.get("content-type"), "text/event-stream");
      await until(() => bus.subscriberCount === 1);
      for (let n = 0; n < 3; n++) bus.send({ n });
      bus.close();
      assert.equal(await response.text(), ': connected\n\ndata: {"n":0}\n\ndata: {"n":1}\n\ndata: {"n":2}\n\n');
    } finally {
      await server.close();
    }
  });

  it("unsubscribes a client that disconnects", async () => {
    const bus = new Bus<{ n: number }>();
    const server = await serve(sseHandler(bus));
    try {
      const controller = new AbortController();
      const response = await fetch(server.url, { signal: controller.signal });
      await until(() => bus.subscriberCount === 1);
      bus.send({ n: 1 });
      const reader = response.body!.getReader();
      let text = "";
      while (!text.includes("\n\ndata:")) text += new TextDecoder().decode((await reader.read()).value);
      assert.equal(text, ': connected\n\ndata: {"n":1}\n\n');
      controller.abort();
      await reader.cancel().catch(() => {});
      // The server notices the disconnect on its next write.
      await until(() => {
        bus.send({ n: 2 });
        return bus.subscriberCount === 0;
      });
    } finally {
      bus.close();
      await server.close();
    }
  });
});
