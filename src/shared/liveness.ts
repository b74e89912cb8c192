/**
 * Liveness: telling a subscriber whose thread died from one that is only
 * slow, so a worker that was terminated (or crashed, or forgot to close)
 * cannot hold a `"wait"` or `"drop-newest"` producer forever.
 *
 * A subscriber's heartbeat is its published cursor: a live reader that holds
 * the ring full reads, and every read publishes. A producer that finds no
 * room notes the cursor of each subscriber holding it; if one has not moved
 * for `releaseAfter` milliseconds of the producer's own clock, it is
 * presumed dead and released: it stops counting as a subscriber and stops
 * holding the ring, and `stats().released` counts it. No clock is shared
 * between threads, and a reader that is caught up (asleep, or busy
 * elsewhere) never holds the ring, so it is never released.
 *
 * A released subscriber whose thread was alive after all (busy for longer
 * than `releaseAfter`) notices at its next read, joins again where it was,
 * and counts what the ring overwrote meanwhile in `missed`, as any lag. It
 * writes its position only into a slot still its own (a released slot is
 * reused when no other is free), so its late writes never land in another
 * reader's. Finding every slot taken, it reads on without holding
 * producers, and joins again at a read after one frees.
 *
 * A subscriber still joining holds producers too, from the cursor it has
 * published; it is released only once it has held the ring for two seconds
 * or `releaseAfter`, whichever is longer (see `JOIN_GRACE` in `ring.ts`).
 *
 * Internal.
 *
 * @module
 */

/** What a producer saw of one subscriber slot, and since when. */
interface Sighting {
  state: number;
  cursor: number;
  since: number;
}

/** One producer's view of the subscribers holding it. */
export class Watch {
  readonly releaseAfter: number;
  readonly #seen = new Map<number, Sighting>();

  /** @param releaseAfter Milliseconds without a move before release; `Infinity` never releases. */
  constructor(releaseAfter: number) {
    this.releaseAfter = releaseAfter;
  }

  /**
   * Notes that slot `index` (state word `state`, cursor `cursor`) holds the
   * ring now, and says whether it has held it unmoved for `after`
   * milliseconds (`releaseAfter` unless given).
   */
  stale(index: number, state: number, cursor: number, now: number, after: number = this.releaseAfter): boolean {
    const seen = this.#seen.get(index);
    if (seen === undefined || seen.state !== state || seen.cursor !== cursor) {
      this.#seen.set(index, { state, cursor, since: now });
      return after === 0;
    }
    return now - seen.since >= after;
  }

  /** Forgets the sightings, once the ring has room again. */
  clear(): void {
    if (this.#seen.size !== 0) this.#seen.clear();
  }
}
