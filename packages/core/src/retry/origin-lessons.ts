import { FLOOR_MS, IdleEvidence, type IdleEvidenceState, type IdleLimitChange } from './idle-evidence.js'
import { IncidentWindow } from './incident-window.js'
import { RequestLimitLearner, type RequestLimitState } from './request-limit-learner.js'

/** A death written on a socket that was already dead comes back within a round trip; later, it is something else. */
const WRITTEN_LONG_AGO_MS = 1_000

/** One connection's death, as the learners need it. */
export interface Death {
  /** The connection, to count distinct ones. */
  readonly connection: object
  readonly openedAt: number
  /** How long it had been idle when the request that died was written on it. */
  readonly idleMs: number
  /** Requests it had answered before this one. */
  readonly completed: number
  /** How long before the failure that request was written. */
  readonly writtenMsAgo: number
}

/** What a stale death taught the origin. */
export type DeathLesson =
  | {
      readonly kind: 'learned'
      readonly idleChange: IdleLimitChange | null
      /** The request limit just learned, or null. */
      readonly requestLimit: number | null
    }
  /** The death showed an incident: what its window taught is taken back (`idleChange`: the limit restored). */
  | { readonly kind: 'incident'; readonly idleChange: IdleLimitChange | null }
  /** Nothing learned: inside an incident, or the request was in flight long after it was written. */
  | { readonly kind: 'nothing' }

interface Saved {
  readonly idle: IdleEvidenceState
  readonly requests: RequestLimitState | null
}

/**
 * Everything an origin learns from its reused sockets, in one place: the idle evidence (the idle limit, and how
 * long a socket may have been idle for a request that cannot be replayed), the per-connection request limit,
 * and the incident window that keeps a restart or a crash from teaching either.
 */
export class OriginLessons {
  readonly #idle: IdleEvidence
  readonly #requests: RequestLimitLearner | null
  readonly #incidents = new IncidentWindow<Saved>()

  /** `learns`: `learnIdleLimit`; the evidence for requests that cannot be replayed is kept either way. */
  constructor(configuredMs: number, declaredMs: number | null, learns: boolean) {
    this.#idle = new IdleEvidence(configuredMs, declaredMs, learns)
    this.#requests = learns ? new RequestLimitLearner() : null
  }

  get idleLimitMs(): number {
    return this.#idle.limitMs
  }

  get learnedIdleLimitMs(): number | null {
    return this.#idle.learnedMs
  }

  get provenIdleMs(): number | null {
    return this.#idle.provenMs
  }

  get affordableIdleMs(): number {
    return this.#idle.affordableMs
  }

  learnedRequestLimit(now: number): number | null {
    return this.#requests?.learned(now) ?? null
  }

  /** A request limit dropped for want of confirmation, that connections past it are kept to replayable requests for. */
  get doubtedRequestLimit(): number | null {
    return this.#requests?.doubted ?? null
  }

  /** A reused socket idle `idleMs`, after `completed` requests, got its response. */
  onSuccessfulReuse(idleMs: number, completed: number, now: number): IdleLimitChange | null {
    this.#requests?.onAnswerAfter(completed)
    return this.#idle.onSuccessfulReuse(idleMs, now)
  }

  onStaleFailure(death: Death, now: number): DeathLesson {
    const hardlyIdle = death.idleMs <= FLOOR_MS
    const verdict = this.#incidents.onDeath(death.connection, death.openedAt, hardlyIdle, now, () => this.#save())
    if (verdict === 'incident') return { kind: 'incident', idleChange: this.#restore() }
    if (verdict === 'in-incident' || death.writtenMsAgo > WRITTEN_LONG_AGO_MS) return { kind: 'nothing' }
    // Hardly idle: the connection was closed after its last request, not for idling. How many it carried is
    // what the request limit learns from; a long idle is the idle evidence's.
    const requestLimit = hardlyIdle ? (this.#requests?.onDeathAfter(death.completed, now) ?? null) : null
    return { kind: 'learned', idleChange: this.#idle.onStaleFailure(death.idleMs, now), requestLimit }
  }

  /**
   * An HTTP/2 session the server ended with a graceful GOAWAY while in use, after taking `streams` streams:
   * servers that end sessions after N streams (nginx `keepalive_requests`, Envoy `max_requests_per_connection`)
   * teach the request limit as a connection that dies after N requests does, so later sessions stop at N − 1
   * and are closed by staleguard before the server says goodbye with streams still open. Returns the new limit.
   */
  onSessionEnded(streams: number, now: number): number | null {
    return this.#requests?.onDeathAfter(streams - 1, now) ?? null
  }

  /** The origin could not be connected to: an incident if a death is beside it. */
  onConnectFailure(now: number): DeathLesson | null {
    const verdict = this.#incidents.onConnectFailure(now)
    return verdict === 'incident' ? { kind: 'incident', idleChange: this.#restore() } : null
  }

  #save(): Saved {
    return { idle: this.#idle.state, requests: this.#requests?.state ?? null }
  }

  #restore(): IdleLimitChange | null {
    const saved = this.#incidents.before
    if (saved === null) return null
    if (saved.requests !== null) this.#requests?.restore(saved.requests)
    return this.#idle.restore(saved.idle)
  }
}
