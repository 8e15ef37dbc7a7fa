import { describe, expect, it } from 'vitest'
import { type Death, OriginLessons } from './origin-lessons.js'

/** A connection opened at 0 that died after `completed` requests, idle `idleMs` when its request was written. */
const death = (idleMs: number, completed: number, writtenMsAgo = 1): Death => ({
  connection: {},
  openedAt: 0,
  idleMs,
  completed,
  writtenMsAgo,
})

describe('OriginLessons', () => {
  it('learns a request limit from two connections dying one after another at the same count', () => {
    const lessons = new OriginLessons(4_000, null, true)
    expect(lessons.onStaleFailure({ ...death(2, 5), openedAt: 0 }, 100)).toMatchObject({ requestLimit: null })
    expect(lessons.onStaleFailure({ ...death(2, 5), openedAt: 101 }, 2_000)).toMatchObject({ requestLimit: 5 })
    expect(lessons.learnedRequestLimit(2_000)).toBe(5)
  })

  it('learns the streams an HTTP/2 server takes per session from two GOAWAYs at the same count, one short', () => {
    const lessons = new OriginLessons(4_000, null, true)
    expect(lessons.onSessionEnded(100, 1_000)).toBeNull()
    expect(lessons.onSessionEnded(100, 2_000)).toBe(99)
    expect(lessons.learnedRequestLimit(2_000)).toBe(99)
    // The same count again confirms it (and keeps it for five minutes more).
    expect(lessons.onSessionEnded(100, 3_000)).toBeNull()
    const off = new OriginLessons(4_000, null, false)
    expect(off.onSessionEnded(100, 1_000)).toBeNull()
    expect(off.onSessionEnded(100, 2_000)).toBeNull()
  })

  it('takes back what a crash taught: connections open together dying at once', () => {
    const lessons = new OriginLessons(4_000, 3_000, true)
    lessons.onSuccessfulReuse(1_000, 3, 0)
    // The first two deaths look like a request limit of 1 and an idle timeout…
    expect(lessons.onStaleFailure(death(2, 1), 100).kind).toBe('learned')
    expect(lessons.onStaleFailure(death(2, 1), 101)).toMatchObject({ kind: 'learned', requestLimit: 1 })
    expect(lessons.onStaleFailure(death(800, 1), 102)).toMatchObject({ kind: 'learned' })
    expect(lessons.idleLimitMs).toBe(720)
    // …the third connection dying in use with them shows the incident: all of it is taken back.
    expect(lessons.onStaleFailure(death(3, 7), 103)).toEqual({
      kind: 'incident',
      idleChange: { previousMs: 720, limitMs: 4_000 },
    })
    expect(lessons.learnedRequestLimit(103)).toBeNull()
    expect(lessons.affordableIdleMs).toBe(3_000)
    expect(lessons.onStaleFailure(death(2, 1), 104)).toEqual({ kind: 'nothing' })
  })

  it('takes back what deaths beside a refused connection taught', () => {
    const lessons = new OriginLessons(4_000, null, true)
    lessons.onStaleFailure(death(900, 3), 100)
    expect(lessons.idleLimitMs).toBe(810)
    expect(lessons.onConnectFailure(110)).toEqual({ kind: 'incident', idleChange: { previousMs: 810, limitMs: 4_000 } })
    expect(lessons.idleLimitMs).toBe(4_000)
  })

  it('learns nothing from a request that was in flight long after it was written', () => {
    const lessons = new OriginLessons(4_000, null, true)
    expect(lessons.onStaleFailure(death(2_000, 3, 5_000), 100)).toEqual({ kind: 'nothing' })
    expect(lessons.idleLimitMs).toBe(4_000)
  })
})
