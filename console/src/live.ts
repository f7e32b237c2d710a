/**
 * Live updates: one EventSource on GET /api/events per page; each list
 * component asks for the version of its topic and fetches again when it
 * moves. After a reconnection every topic moves (events may have been missed).
 */
import { useEffect, useState } from 'react';
import type { ServerEvent } from '../../src/protocol/rest/objects.js';

type Topic = ServerEvent['changed'];
const TOPICS: readonly Topic[] = ['jobs', 'alerts', 'agents'];

const versions = new Map<Topic, number>(TOPICS.map((t) => [t, 0]));
const listeners = new Set<() => void>();
let source: EventSource | null = null;

function bump(topics: readonly Topic[]): void {
  for (const t of topics) versions.set(t, (versions.get(t) ?? 0) + 1);
  for (const l of listeners) l();
}

/** Starts following the server's events (after sign-in); stop() on sign-out. */
export function startLive(): void {
  if (source) return;
  let opened = false;
  source = new EventSource('/api/events');
  source.onopen = () => {
    if (opened) bump(TOPICS);
    opened = true;
  };
  source.onmessage = (m: MessageEvent<string>) => {
    try {
      const e = JSON.parse(m.data) as ServerEvent;
      if (TOPICS.includes(e.changed)) bump([e.changed]);
    } catch {
      // not ours: ignore
    }
  };
}

export function stopLive(): void {
  source?.close();
  source = null;
}

/** A number that changes whenever `topic` changed on the server. */
export function useLive(topic: Topic): number {
  const [v, setV] = useState(versions.get(topic) ?? 0);
  useEffect(() => {
    const l = () => setV(versions.get(topic) ?? 0);
    listeners.add(l);
    return () => {
      listeners.delete(l);
    };
  }, [topic]);
  return v;
}
