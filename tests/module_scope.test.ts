import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Bus } from "../mod.ts";
import { serve } from "./_serve.ts";

// One bus for the whole server, held at module scope as a Deno, Bun or Node server holds it. Workers cannot do this
// (tests/workerd/suite.ts shows what happens there).
const bus = new Bus<number>({ capacity: 64 });

const encoder = new TextEncoder();
function handler(request: Request): Response {
  const url = new URL(request.url);
  if (url.pathname === "/send") return new Response(String(bus.send(Number(url.searchParams.get("n")))));
  const lines = new TransformStream<number, Uint8Array>({
    // A first line at once, since Node's and Bun's servers hold the headers until the body's first byte.
    start: (controller) => controller.enqueue(encoder.encode("subscribed\n")),
    transform: (value, controller) => controller.enqueue(encoder.encode(`${value}\n`)),
  });
  return new Response(bus.subscribe().readable.pipeThrough(lines));
}

describe("Bus at module scope", () => {
  it("serves subscribers made in several requests, fed by sends made in other requests", async () => {
    const server = await serve(handler);
    try {
      // The handler subscribes before it returns, so once the responses are here both subscribers exist.
      const signal = AbortSignal.timeout(10_000); // a watchdog: a broken bus would hang these reads
      const [first, second] = await Promise.all([fetch(server.url, { signal }), fetch(server.url, { signal })]);
      assert.equal(bus.subscriberCount, 2);
      for (let n = 0; n < 3; n++) assert.equal(await (await fetch(`${server.url}send?n=${n}`)).text(), "2");
      bus.close();
      assert.deepEqual(await Promise.all([first.text(), second.text()]), [
        "subscribed\n0\n1\n2\n",
        "subscribed\n0\n1\n2\n",
      ]);
    } finally {
      bus.close();
      await server.close();
    }
  });
});
