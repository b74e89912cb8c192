/**
 * The text/event-stream wire format: events, comments and the `retry:`
 * field, as the HTML standard's parser reads them.
 *
 * Internal: used by {@linkcode eventStream}.
 *
 * @module
 */

/** The parser ends a line at CR, LF or CRLF, so each of them must start another `data:` line. */
const LINE_BREAK = /\r\n|\r|\n/;

/** One event: its `event:` name (none means `message`), its `id:`, and its data on as many `data:` lines as it has lines. */
export function formatEvent(event: string | undefined, id: string, data: string): string {
  let text = event === undefined ? `id: ${id}\n` : `event: ${event}\nid: ${id}\n`;
  if (!LINE_BREAK.test(data)) return `${text}data: ${data}\n\n`;
  for (const line of data.split(LINE_BREAK)) text += `data: ${line}\n`;
  return `${text}\n`;
}

/** What a stream says first, so the headers and a first byte leave at once: a comment, and `retry:` if asked for. */
export function formatOpening(retry: number | undefined): string {
  return retry === undefined ? ": connected\n\n" : `: connected\n\nretry: ${retry}\n\n`;
}

/** A comment: the parser ignores it, but it is traffic, which keeps idle-timeouts at bay. */
export const HEARTBEAT = ": heartbeat\n\n";
