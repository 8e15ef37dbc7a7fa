/**
 * A copy of dispatch (or request) options, to add properties to: every copy staleguard makes of options that
 * reach undici goes through here, never through a spread. On Node 20 (V8 11.3), an object made by spreading
 * and then given a property the original lacks (`{ ...options, [kCallScope]: scope }`) makes undici's
 * Request constructor, which reads some sixteen names from its options, take 4–5 µs instead of 0.4; a copy
 * made by `Object.assign` does not (bench/README.md, "Profile"). Node 22 and later handle both alike.
 */
export function copyOfOptions<T extends object>(options: T): T {
  return Object.assign({}, options)
}
