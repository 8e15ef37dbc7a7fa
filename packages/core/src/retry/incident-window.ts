/**
 * Tells an incident (the upstream restarted, crashed, failed over) from what the learners learn from: a hop's
 * idle timeout, a server's per-connection request limit. Those kill one connection at a time, at its limit; an
 * incident kills many connections at once, whatever they carried, or leaves nothing to connect to. Learned from,
 * its deaths would teach a limit that is not there (every connection retired after one request, say) and that
 * would hurt long after the upstream is back: so an incident teaches nothing, and what its first deaths taught
 * before it was recognised is taken back.
 *
 * An incident is, within any window of a second:
 * - hardly-idle deaths (in use, or just used) of `CLUSTER` connections that were all open before the window's
 *   first death; or
 * - a failure to connect to the origin, beside any death.
 * Deaths after a long idle are a hop's idle timeout: sockets pooled by one burst die together after a gap, and
 * that is learned from, unless the window is an incident for one of the reasons above.
 *
 * The window slides, from each death back a second, rather than starting at a first death: a crash on a loaded
 * machine is seen as deaths spread over tens of milliseconds, and a window that ended among them would leave its
 * last few to teach, or would take back only to a state its first few had already taught. For the same reason an
 * incident lasts until a second passes without a death or a failed connect: the deaths that trail it, or a crash
 * right after it, are its own.
 */
export const INCIDENT_WINDOW_MS = 1_000
const CLUSTER = 3

/** What the window says of a death, or of a connect failure. */
export type IncidentVerdict =
  /** Nothing suggests an incident: learn from it (and keep what is learned undoable while the window lasts). */
  | 'learn'
  /** This is the event that shows the window to be an incident: take back what the window taught. */
  | 'incident'
  /** Inside a window already known to be an incident: learn nothing. */
  | 'in-incident'

/** A death within the last window, and the learners' state before it taught anything. */
interface RecentDeath<S> {
  readonly at: number
  readonly connection: object
  readonly openedAt: number
  readonly hardlyIdle: boolean
  readonly before: S
}

export class IncidentWindow<S> {
  /** Deaths of the last window, oldest first; empty while an incident lasts. */
  #recent: RecentDeath<S>[] = []
  /** An incident lasts while its events come less than a window apart. */
  #incidentUntil = Number.NEGATIVE_INFINITY
  #before: S | null = null

  /**
   * A connection died. `connection` identifies it, `openedAt` is when it was opened, `hardlyIdle` whether it
   * was in use or just used. `save` gives the learners' state, to put back if this turns out to be an incident.
   */
  onDeath(connection: object, openedAt: number, hardlyIdle: boolean, now: number, save: () => S): IncidentVerdict {
    if (this.#lasts(now)) return 'in-incident'
    this.#forgetBefore(now)
    this.#recent.push({ at: now, connection, openedAt, hardlyIdle, before: save() })
    if (!hardlyIdle || this.#openTogetherAndDead() < CLUSTER) return 'learn'
    this.#begin(now)
    return 'incident'
  }

  /** The origin could not be connected to: deaths beside it, before or after, are an incident's. */
  onConnectFailure(now: number): IncidentVerdict {
    if (this.#lasts(now)) return 'in-incident'
    this.#forgetBefore(now)
    this.#begin(now)
    // Nothing learned in this window yet: nothing to take back.
    return this.#before === null ? 'in-incident' : 'incident'
  }

  /** What the learners held before the first death of the incident just recognised (null if none taught). */
  get before(): S | null {
    return this.#before
  }

  #lasts(now: number): boolean {
    if (now > this.#incidentUntil) return false
    this.#incidentUntil = now + INCIDENT_WINDOW_MS
    return true
  }

  #begin(now: number): void {
    this.#before = this.#recent[0]?.before ?? null
    this.#recent = []
    this.#incidentUntil = now + INCIDENT_WINDOW_MS
  }

  #forgetBefore(now: number): void {
    let stale = 0
    while (stale < this.#recent.length && now - this.#recent[stale]!.at > INCIDENT_WINDOW_MS) stale++
    if (stale > 0) this.#recent.splice(0, stale)
  }

  /** Distinct connections of the window that died hardly idle, and were open before its first death. */
  #openTogetherAndDead(): number {
    const firstDeathAt = this.#recent[0]!.at
    const counted = new Set<object>()
    for (const death of this.#recent) {
      if (death.hardlyIdle && death.openedAt < firstDeathAt) counted.add(death.connection)
    }
    return counted.size
  }
}
