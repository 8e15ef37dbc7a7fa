/**
 * undici keeps some of what staleguard must read (an Agent's options, a socket's HTTP/2 session, a pool's busy
 * flag per Client) under symbols it does not export, each a `Symbol('<name>')`: the same descriptions in every
 * copy and major (6, 7 and 8), so they are found by description. Each use has a test that fails if a release
 * renames one.
 */
export function symbolNamed(object: object, description: string): symbol | undefined {
  for (let level: object | null = object; level !== null; level = Object.getPrototypeOf(level) as object | null) {
    for (const symbol of Object.getOwnPropertySymbols(level)) if (symbol.description === description) return symbol
  }
  return undefined
}

/** The value undici keeps under `Symbol(description)` on this object (or its prototypes), if any. */
export function readNamed(object: object, description: string): unknown {
  const symbol = symbolNamed(object, description)
  return symbol === undefined ? undefined : (object as Record<symbol, unknown>)[symbol]
}
