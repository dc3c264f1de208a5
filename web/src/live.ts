// Live updates: one EventSource on /api/v1/events; pages register a refresh for the events
// that concern them and refetch their data (no reload). Bursts (a whole upload's changes)
// are folded into one refresh.
import {useEffect, useRef} from 'preact/hooks';

export type LiveEvent = 'upload' | 'change' | 'alert';

type Listener = {events: LiveEvent[]; callback: () => void};
const listeners = new Set<Listener>();
let source: EventSource | null = null;

export function startLive(): void {
  if (source || typeof EventSource === 'undefined') return;
  source = new EventSource('/api/v1/events');
  for (const name of ['upload', 'change', 'alert'] as LiveEvent[]) {
    source.addEventListener(name, () => {
      for (const listener of listeners) {
        if (listener.events.includes(name)) listener.callback();
      }
    });
  }
}

export function stopLive(): void {
  source?.close();
  source = null;
}

// Calls `refresh` (at most every 250 ms) after any of `events` arrives.
export function useLive(events: LiveEvent[], refresh: () => void): void {
  const latest = useRef(refresh);
  latest.current = refresh;
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | null = null;
    const listener: Listener = {
      events,
      callback: () => {
        if (timer) return;
        timer = setTimeout(() => {
          timer = null;
          latest.current();
        }, 250);
      },
    };
    listeners.add(listener);
    return () => {
      listeners.delete(listener);
      if (timer) clearTimeout(timer);
    };
  }, [events.join()]);
}
