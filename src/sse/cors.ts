/**
 * The CORS headers of an SSE response. A browser's `EventSource` makes a
 * simple GET: it sends `Last-Event-ID` itself, without a preflight, so the
 * response needs only to name the page's origin (and allow credentials when
 * the page asked for them).
 *
 * Internal: used by {@linkcode sseResponse}.
 *
 * @module
 */

/** Adds the CORS headers for a request from `origin` (the request's `Origin`, if any). */
export function addCorsHeaders(
  headers: Headers,
  origin: string | null,
  allowOrigin: "*" | readonly string[] | undefined,
  allowCredentials: boolean,
): void {
  if (allowOrigin === undefined) return;
  if (allowOrigin === "*") {
    headers.set("access-control-allow-origin", "*");
    return;
  }
  // The answer depends on the request's Origin, so a cache must key on it.
  headers.append("vary", "origin");
  if (origin === null || !allowOrigin.includes(origin)) return;
  headers.set("access-control-allow-origin", origin);
  if (allowCredentials) headers.set("access-control-allow-credentials", "true");
}
