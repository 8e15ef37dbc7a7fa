import { describe, expect, it } from 'vitest'
import { INCIDENT_WINDOW_MS, IncidentWindow } from './incident-window.js'

const connection = () => ({})

describe('IncidentWindow', () => {
  it('learns from connections dying one after another, each opened after the one before died', () => {
    const window = new IncidentWindow<string>()
    let openedAt = 0
    for (let now = 10; now < 500; now += 10) {
      expect(window.onDeath(connection(), openedAt, true, now, () => 'state')).toBe('learn')
      openedAt = now + 1
    }
  })

  it('calls hardly-idle deaths of three connections open together an incident, and keeps the state before it', () => {
    const window = new IncidentWindow<string>()
    let saved = 0
    const save = () => `state ${++saved}`
    expect(window.onDeath(connection(), 0, true, 100, save)).toBe('learn')
    expect(window.onDeath(connection(), 0, true, 101, save)).toBe('learn')
    expect(window.onDeath(connection(), 0, true, 102, save)).toBe('incident')
    expect(window.before).toBe('state 1')
    expect(window.onDeath(connection(), 0, true, 103, save)).toBe('in-incident')
    // A window later, deaths are judged afresh.
    expect(window.onDeath(connection(), 0, true, 102 + INCIDENT_WINDOW_MS + 200, save)).toBe('learn')
  })

  it('learns from sockets pooled by one burst dying together after a long idle (a hop timeout)', () => {
    const window = new IncidentWindow<string>()
    for (let i = 0; i < 6; i++) expect(window.onDeath(connection(), 0, false, 100 + i, () => 'state')).toBe('learn')
  })

  it('counts the same connection once', () => {
    const window = new IncidentWindow<string>()
    const one = connection()
    for (let i = 0; i < 5; i++) expect(window.onDeath(one, 0, true, 100 + i, () => 'state')).toBe('learn')
  })

  it('calls a death beside a failed connect an incident, whichever comes first', () => {
    const before = new IncidentWindow<string>()
    expect(before.onDeath(connection(), 0, false, 100, () => 'state')).toBe('learn')
    expect(before.onConnectFailure(150)).toBe('incident')
    expect(before.before).toBe('state')
    const after = new IncidentWindow<string>()
    expect(after.onConnectFailure(100)).toBe('in-incident')
    expect(after.onDeath(connection(), 0, false, 150, () => 'state')).toBe('in-incident')
    // The incident lasts until a window passes without a death: the one at 150 carried it on.
    expect(after.onDeath(connection(), 0, false, 150 + INCIDENT_WINDOW_MS, () => 'state')).toBe('in-incident')
    expect(after.onDeath(connection(), 0, false, 151 + 2 * INCIDENT_WINDOW_MS, () => 'state')).toBe('learn')
  })

  it('calls the deaths of a crash that straddle the end of the incident before it that incident, and learns none', () => {
    const window = new IncidentWindow<string>()
    const save = () => 'state'
    for (const now of [100, 101, 102]) window.onDeath(connection(), 0, true, now, save)
    // The next crash, 990 ms on: its deaths spread over 15 ms of a loaded event loop, past the first one's second.
    const next = [1090, 1095, 1101, 1105].map((now) => window.onDeath(connection(), 200, true, now, save))
    expect(next).toEqual(['in-incident', 'in-incident', 'in-incident', 'in-incident'])
  })

  it('takes an incident back to the state before its first death, though a death a second before opened a window', () => {
    const window = new IncidentWindow<number>()
    let saved = 0
    const save = () => ++saved
    // A socket idle too long, then a crash just under a second later: its first two deaths teach (a request
    // limit, if they carried as many requests), the third shows the incident.
    expect(window.onDeath(connection(), 0, false, 0, save)).toBe('learn')
    expect(window.onDeath(connection(), 100, true, 990, save)).toBe('learn')
    expect(window.onDeath(connection(), 100, true, 995, save)).toBe('learn')
    expect(window.onDeath(connection(), 100, true, 1_001, save)).toBe('incident')
    // What the two deaths at 990 and 995 taught is taken back; the idle death at 0 is outside the window.
    expect(window.before).toBe(2)
  })

  it('still learns from connections that die one at a time, less than a second apart, each after the one before', () => {
    const window = new IncidentWindow<string>()
    for (let now = 0; now < 5_000; now += 300)
      expect(window.onDeath(connection(), now - 1, true, now, () => 'state')).toBe('learn')
  })
})
