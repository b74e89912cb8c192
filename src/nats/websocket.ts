/**
 * A guard for `wsconnect`: without a global `WebSocket` (Node 20 without
 * `--experimental-websocket`), `wsconnect()` from `@nats-io/nats-core`
 * neither settles nor throws, so a program waits forever in silence.
 *
 * @module
 */

/**
 * Throws a clear error if this runtime has no global `WebSocket`, which
 * `wsconnect()` from `@nats-io/nats-core` needs: call it first. Deno, Bun,
 * browsers and Node 22+ have one; Node 20 has one only with
 * `--experimental-websocket`.
 *
 * @throws {Error} If `globalThis.WebSocket` is not a constructor, with what to do about it.
 *
 * @example Before wsconnect
 * ```ts ignore
 * import { assertWebSocket } from "@ron/bus/nats";
 * import { wsconnect } from "@nats-io/nats-core";
 *
 * assertWebSocket();
 * const nc = await wsconnect({ servers: "ws://127.0.0.1:8080" });
 * ```
 */
export function assertWebSocket(): void {
  if (typeof (globalThis as { WebSocket?: unknown }).WebSocket === "function") return;
  throw new Error(
    "No global WebSocket in this runtime, so wsconnect() would never settle: on Node 20 run node with " +
      "--experimental-websocket (Node 22 and later have WebSocket), or connect with @nats-io/transport-node",
  );
}
