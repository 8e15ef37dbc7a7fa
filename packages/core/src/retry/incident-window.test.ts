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
    expect(after.onDeath(connection(), 0, false, 150 + INCIDENT_WINDOW_MS, () => 'state')).toBe('learn')
  })
})
