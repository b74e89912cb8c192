/**
 * The client side of Server-Sent Events, for the tests: the HTML standard's
 * event stream parser ("Interpreting an event stream"), and a reader that
 * parses a stream as it arrives. Tests check what a browser would see, not
 * bytes.
 *
 * @module
 */

import assert from "node:assert/strict";

/** An event as `EventSource` dispatches it, plus what a test wants to see besides. */
export interface ParsedEvent {
  /** The event's type: `message` unless an `event:` field named it. */
  type: string;
  data: string;
  /** The last event ID after this event (ids carry over to events without one, as in the browser). */
  lastEventId: string;
}

/** What a stream said: its events, its comments, and the last `retry:` it set. */
export interface Parsed {
  events: ParsedEvent[];
  comments: string[];
  retry: number | undefined;
}

/**
 * A parser fed text in pieces, which may split lines anywhere (a CRLF
 * across two pieces included). Follows the standard: a line is ended by CR,
 * LF or CRLF; `:` starts a comment; a field's value loses one leading space;
 * a blank line dispatches the event, unless its data is empty.
 */
export class SseParser {
  readonly parsed: Parsed = { events: [], comments: [], retry: undefined };
  #buffer = "";
  #type = "";
  #data = "";
  #lastEventId = "";
  #pendingCr = false;

  feed(text: string): void {
    if (this.#pendingCr && text.startsWith("\n")) text = text.slice(1);
    this.#pendingCr = false;
    this.#buffer += text;
    for (;;) {
      const end = this.#buffer.search(/[\r\n]/);
      if (end < 0) return;
      const line = this.#buffer.slice(0, end);
      let rest = this.#buffer.slice(end + 1);
      if (this.#buffer[end] === "\r") {
        if (rest.startsWith("\n")) rest = rest.slice(1);
        else if (rest === "") this.#pendingCr = true; // the LF of a CRLF may come in the next piece
      }
      this.#buffer = rest;
      this.#line(line);
    }
  }

  #line(line: string): void {
    if (line === "") return this.#dispatch();
    if (line.startsWith(":")) return void this.parsed.comments.push(line.slice(1).trimStart());
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") this.#type = value;
    else if (field === "data") this.#data += `${value}\n`;
    else if (field === "id" && !value.includes("\0")) this.#lastEventId = value;
    else if (field === "retry" && /^[0-9]+$/.test(value)) this.parsed.retry = Number(value);
  }

  #dispatch(): void {
    if (this.#data === "") {
      this.#type = "";
      return;
    }
    const data = this.#data.slice(0, -1);
    this.parsed.events.push({ type: this.#type || "message", data, lastEventId: this.#lastEventId });
    this.#type = "";
    this.#data = "";
  }
}

/** Parses a whole stream's text. */
export function parseSse(text: string): Parsed {
  const parser = new SseParser();
  parser.feed(text);
  return parser.parsed;
}

/** A stream of SSE bytes, read and parsed as it comes. Every wait has a deadline, so a broken stream fails, not hangs. */
export class SseReader {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #decoder = new TextDecoder();
  readonly #parser = new SseParser();
  #done = false;

  constructor(body: ReadableStream<Uint8Array>) {
    this.#reader = body.getReader();
  }

  /** Everything parsed so far. */
  get parsed(): Parsed {
    return this.#parser.parsed;
  }

  /** Whether the stream has ended. */
  get done(): boolean {
    return this.#done;
  }

  /** Reads until `condition` holds on what was parsed, or fails after `ms`. */
  async until(condition: (parsed: Parsed) => boolean, what: string, ms = 5000): Promise<Parsed> {
    const deadline = Date.now() + ms;
    while (!condition(this.parsed)) {
      // Messages are built only on failure: what was parsed may be megabytes.
      if (this.#done) assert.fail(`the stream ended before ${what}; it said ${JSON.stringify(this.parsed)}`);
      const left = deadline - Date.now();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<"timeout">((resolve) => timer = setTimeout(() => resolve("timeout"), left));
      let chunk: ReadableStreamReadResult<Uint8Array> | "timeout";
      try {
        chunk = await Promise.race([this.#reader.read(), timeout]);
      } finally {
        clearTimeout(timer); // a read that fails (a dropped connection) must not leave the deadline running
      }
      if (chunk === "timeout") {
        assert.fail(`no ${what} within ${ms} ms; the stream said ${JSON.stringify(this.parsed)}`);
      }
      const { done, value } = chunk;
      if (done) this.#done = true;
      else this.#parser.feed(this.#decoder.decode(value, { stream: true }));
    }
    return this.parsed;
  }

  /** Reads until `count` events in all have arrived, and returns them all. */
  async events(count: number, ms?: number): Promise<ParsedEvent[]> {
    return (await this.until((parsed) => parsed.events.length >= count, `${count} events`, ms)).events;
  }

  /** Reads to the end of the stream. */
  async end(ms?: number): Promise<Parsed> {
    return await this.until(() => this.#done, "the end of the stream", ms);
  }

  /** Cancels the stream, as a client that leaves. */
  async cancel(): Promise<void> {
    await this.#reader.cancel().catch(() => {});
  }
}

/** The tag and position in an id `<tag>-<n>`. */
export function splitId(id: string): { tag: string; position: number } {
  const match = /^([0-9a-z]{8})-([0-9]+)$/.exec(id);
  assert.ok(match !== null, `an id of the form <tag>-<n>: ${JSON.stringify(id)}`);
  return { tag: match[1]!, position: Number(match[2]) };
}

/**
 * The accounting law for one client: read in order, every sequence number
 * from `from` to `sent` (exclusive) was delivered or counted in a gap, once.
 * Each value event's data must be its own sequence number. Returns the
 * number of gap events.
 */
export function assertAccounted(events: ParsedEvent[], from: number, sent: number): number {
  let next = from;
  let gaps = 0;
  for (const event of events) {
    const { position } = splitId(event.lastEventId);
    if (event.type === "gap") {
      assert.equal(position - next, JSON.parse(event.data).missed, "a gap counts exactly the values skipped");
      gaps++;
    } else {
      assert.equal(position - 1, next, "values arrive in order, each right after the last or after a gap");
      assert.equal(event.data, String(position - 1), "a value's id is its own number plus one");
    }
    next = position;
  }
  assert.equal(next, sent, "every value sent was received or counted in a gap");
  return gaps;
}
