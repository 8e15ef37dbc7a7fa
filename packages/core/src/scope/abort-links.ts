/**
 * Links a caller's AbortSignal to per-call controllers with one listener per signal, process-wide, held only
 * while some call is linked to it. A long-lived signal (a shutdown signal passed to every call) then never
 * collects a listener per call, which is what trips MaxListenersExceededWarning, and nothing stays on it
 * once the requests that used it are over. (AbortSignal.any avoids listeners but leaks on Node 22 and 26.)
 */
interface Link {
  readonly targets: Set<AbortController>
  readonly onAbort: () => void
}

const links = new WeakMap<AbortSignal, Link>()

/** Aborts `target` when `source` aborts; the returned function undoes the link. */
export function linkAbort(source: AbortSignal, target: AbortController): () => void {
  if (source.aborted) {
    target.abort(source.reason)
    return () => {}
  }
  let link = links.get(source)
  if (link === undefined) {
    const targets = new Set<AbortController>()
    const onAbort = (): void => {
      links.delete(source)
      for (const controller of targets) controller.abort(source.reason)
      targets.clear()
    }
    link = { targets, onAbort }
    links.set(source, link)
    source.addEventListener('abort', onAbort, { once: true })
  }
  link.targets.add(target)
  const current = link
  return () => {
    if (!current.targets.delete(target) || current.targets.size > 0) return
    source.removeEventListener('abort', current.onAbort)
    if (links.get(source) === current) links.delete(source)
  }
}
