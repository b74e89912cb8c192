/**
 * Event ids: `<tag>-<position>`. The position is a sequence number of the
 * bus: the number of the next value after the event (as
 * {@linkcode Subscriber.position} counts), so a `Last-Event-ID` goes
 * straight back into `subscribe({ from })`. The tag is drawn at random, once
 * per bus, so an id that another bus gave (before a restart, or on another
 * instance of a deployment) is told apart from one this bus gave, instead of
 * resuming at a number that means something else here.
 *
 * Internal: used by {@linkcode eventStream}.
 *
 * @module
 */

const tags = new WeakMap<object, string>();

/** This bus's tag: eight random base-36 characters, the same for the bus's whole life. */
export function tagOf(bus: object): string {
  let tag = tags.get(bus);
  if (tag === undefined) {
    const bytes = crypto.getRandomValues(new Uint8Array(8));
    tag = Array.from(bytes, (byte) => (byte % 36).toString(36)).join("");
    tags.set(bus, tag);
  }
  return tag;
}

/** The id of an event after which reading resumes at `position`. */
export function formatId(tag: string, position: number): string {
  return `${tag}-${position}`;
}

/** Positions as this module writes them: no sign, no leading zero, no exponent, at most 2^53. */
const ID = /^([0-9a-z]{8})-(0|[1-9][0-9]{0,15})$/;

/**
 * Where a client that sent `lastEventId` resumes: the position in it, if
 * this bus (tagged `tag`, which has given positions up to `sent`) could have
 * given it; otherwise undefined.
 */
export function resumePosition(lastEventId: string, tag: string, sent: number): number | undefined {
  const match = ID.exec(lastEventId);
  if (match === null || match[1] !== tag) return undefined;
  const position = Number(match[2]);
  return position <= sent ? position : undefined;
}
