/**
 * Tells an incident (the upstream restarted, crashed, failed over) from what the learners learn from: a hop's
 * idle timeout, a server's per-connection request limit. Those kill one connection at a time, at its limit; an
 * incident kills many connections at once, whatever they carried, or leaves nothing to connect to. Learned from,
 * its deaths would teach a limit that is not there (every connection retired after one request, say) and that
 * would hurt long after the upstream is back: so an incident teaches nothing, and what its first deaths taught
 * before it was recognised is taken back.
 *
 * An incident is, within one window (a second from its first death):
 * - hardly-idle deaths (in use, or just used) of `CLUSTER` connections that were all open before the window's
 *   first death; or
 * - a failure to connect to the origin, beside any death.
 * Deaths after a long idle are a hop's idle timeout: sockets pooled by one burst die together after a gap, and
 * that is learned from, unless the window is an incident for one of the reasons above.
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

export class IncidentWindow<S> {
  #opensAt = Number.NEGATIVE_INFINITY
  #incident = false
  /** The learners' state before the window's first lesson, to put back if it turns out to be an incident. */
  #before: S | null = null
  readonly #hardlyIdleDeaths = new Set<object>()
  #sawConnectFailure = false

  /**
   * A connection died. `connection` identifies it, `openedAt` is when it was opened, `hardlyIdle` whether it
   * was in use or just used. `save` is called when a window opens, for the learners' state.
   */
  onDeath(connection: object, openedAt: number, hardlyIdle: boolean, now: number, save: () => S): IncidentVerdict {
    if (now - this.#opensAt > INCIDENT_WINDOW_MS) this.#open(now)
    if (this.#incident) return 'in-incident'
    this.#before ??= save()
    if (hardlyIdle && openedAt < this.#opensAt) this.#hardlyIdleDeaths.add(connection)
    if (this.#hardlyIdleDeaths.size < CLUSTER && !this.#sawConnectFailure) return 'learn'
    this.#incident = true
    return 'incident'
  }

  /** The origin could not be connected to: deaths beside it, before or after, are an incident's. */
  onConnectFailure(now: number): IncidentVerdict {
    if (now - this.#opensAt > INCIDENT_WINDOW_MS) this.#open(now)
    this.#sawConnectFailure = true
    if (this.#incident) return 'in-incident'
    this.#incident = true
    // Nothing learned in this window yet: nothing to take back.
    return this.#before === null ? 'in-incident' : 'incident'
  }

  /** What the learners held before this window's first lesson (null before any). */
  get before(): S | null {
    return this.#before
  }

  #open(now: number): void {
    this.#opensAt = now
    this.#incident = false
    this.#before = null
    this.#hardlyIdleDeaths.clear()
    this.#sawConnectFailure = false
  }
}
