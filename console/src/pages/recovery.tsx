/**
 * Recovery: pick a data source, then a day on its calendar (days with
 * recovery points in bold) and a time; browse that point's tree, search
 * across points, see a file's versions; select items and recover them with
 * the recover dialog (to the original place, another computer, a server
 * folder, or a download).
 */
import { useEffect, useMemo, useState } from 'react';
import { api } from '../../../src/protocol/rest/contract.js';
import type { FileItem, RecoveryPoint, Session } from '../../../src/protocol/rest/objects.js';
import { call } from '../api.js';
import { formatBytes, formatTime, plural } from '../format.js';
import { useLoad } from '../load.js';
import { href } from '../route.js';
import { isClusterSource, RecoverDialog } from './recover-dialog.js';
import { PatternSearch, VersionsDialog } from './find-parts.js';

export function Recovery({ route }: { route: string[]; session: Session }) {
  const source = route[0] ?? null;
  return source ? <SourceRecovery source={source} pointId={route[1] ?? null} /> : <PickSource />;
}

function PickSource() {
  const [search, setSearch] = useState('');
  const sources = useLoad(() => call(api.listSources, { query: { limit: 200, ...(search ? { search } : {}) } }), [search]);
  return (
    <section aria-labelledby="recovery-title">
      <div className="bar">
        <h1 id="recovery-title">Recovery</h1>
        <label>
          Find a data source
          <input type="search" value={search} onChange={(e) => setSearch(e.target.value.trim())} placeholder="part of the id" maxLength={200} />
        </label>
      </div>
      {sources.error && <p className="error">{sources.error}</p>}
      {sources.data && sources.data.length === 0 && <p className="empty">No data source matches.</p>}
      <ul className="pick-list">
        {(sources.data ?? []).map((s) => (
          <li key={s.id}>
            <a href={href('recovery', s.id)}>{s.id}</a>
            <small>
              {plural(s.recoveryPoints, 'recovery point')} · newest {formatTime(s.newestPoint)}
            </small>
          </li>
        ))}
      </ul>
    </section>
  );
}

/** A point's local day, as the calendar keys it. */
function dayOf(iso: string): string {
  const d = new Date(iso);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

function SourceRecovery({ source, pointId }: { source: string; pointId: string | null }) {
  const points = useLoad(() => call(api.listPoints, { params: { id: source } }), [source]);
  const list = points.data ?? [];
  const point = list.find((p) => p.id === pointId) ?? list.at(-1) ?? null;
  const [day, setDay] = useState<string | null>(null);
  const shownDay = day ?? (point ? dayOf(point.time) : null);
  const [tab, setTab] = useState<'browse' | 'search'>('browse');
  const [path, setPath] = useState('');
  const [versionsOf, setVersionsOf] = useState<string | null>(null);
  const [selected, setSelected] = useState<ReadonlySet<string>>(new Set());
  const [recovering, setRecovering] = useState(false);

  const choose = (p: RecoveryPoint) => {
    location.hash = href('recovery', source, p.id);
    setDay(dayOf(p.time));
  };
  const openPath = (p: string) => {
    setPath(p);
    setTab('browse');
  };

  return (
    <section aria-labelledby="source-title">
      <p>
        <a href={href('recovery')}>← Data sources</a>
      </p>
      <div className="bar">
        <h1 id="source-title">Recover from {source}</h1>
      </div>
      {points.error && <p className="error">{points.error}</p>}
      {points.data && list.length === 0 && <p className="empty">This data source has no recovery points yet.</p>}
      {point && shownDay && (
        <div className="recovery-layout">
          <div>
            <Calendar points={list} day={shownDay} onDay={setDay} />
            <DayTimes points={list.filter((p) => dayOf(p.time) === shownDay)} chosen={point.id} onChoose={choose} />
          </div>
          <div>
            <div className="point-bar">
              <strong>Recovery point {formatTime(point.time)}</strong>
              <span className="muted">
                {plural(point.files, 'file')} · {formatBytes(point.logicalBytes)} · id {point.id.slice(0, 12)}
                {point.partial ? ' · some items could not be read when it was taken' : ''}
              </span>
              <button type="button" onClick={() => setRecovering(true)}>
                {selected.size > 0 ? `Recover ${plural(selected.size, 'item')}…` : 'Recover the whole point…'}
              </button>
            </div>
            {isClusterSource(source) ? (
              <p className="note">
                This is a PostgreSQL cluster: each recovery point is the whole cluster, recovered into a new folder on a computer where it
                starts as a working cluster. Its files are not browsed.
              </p>
            ) : (<>
            <nav className="tabs" aria-label="Find what to recover">
              <button type="button" className={tab === 'browse' ? 'tab current' : 'tab'} aria-pressed={tab === 'browse'} onClick={() => setTab('browse')}>
                Browse
              </button>
              <button type="button" className={tab === 'search' ? 'tab current' : 'tab'} aria-pressed={tab === 'search'} onClick={() => setTab('search')}>
                Search all points
              </button>
            </nav>
            {tab === 'browse' ? (
              <Tree source={source} point={point} path={path} onPath={setPath} selected={selected} onSelect={setSelected} onVersions={setVersionsOf} />
            ) : (
              <Search source={source} onOpen={(p, at) => {
                if (at) choose(at);
                openPath(p);
              }} />
            )}
            </>)}
          </div>
        </div>
      )}
      {versionsOf && <Versions source={source} path={versionsOf} onClose={() => setVersionsOf(null)} onChoose={(p) => {
        setVersionsOf(null);
        const full = list.find((x) => x.id === p.id);
        if (full) choose(full);
      }} />}
      {recovering && point && <RecoverDialog source={source} point={point} items={[...selected]} onClose={() => setRecovering(false)} />}
    </section>
  );
}

const WEEKDAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];

function Calendar({ points, day, onDay }: { points: readonly RecoveryPoint[]; day: string; onDay: (d: string) => void }) {
  const counts = useMemo(() => {
    const m = new Map<string, number>();
    for (const p of points) m.set(dayOf(p.time), (m.get(dayOf(p.time)) ?? 0) + 1);
    return m;
  }, [points]);
  const [month, setMonth] = useState(day.slice(0, 7));
  const [y, mo] = month.split('-').map(Number) as [number, number];
  const first = new Date(y, mo - 1, 1);
  const daysIn = new Date(y, mo, 0).getDate();
  const lead = (first.getDay() + 6) % 7;
  const shift = (n: number) => {
    const d = new Date(y, mo - 1 + n, 1);
    setMonth(`${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}`);
  };
  const title = first.toLocaleDateString('en-GB', { month: 'long', year: 'numeric' });
  return (
    <div className="calendar" role="group" aria-label={`Recovery points in ${title}`}>
      <div className="calendar-head">
        <button type="button" className="secondary" onClick={() => shift(-1)} aria-label="Previous month">‹</button>
        <span>{title}</span>
        <button type="button" className="secondary" onClick={() => shift(1)} aria-label="Next month">›</button>
      </div>
      <div className="calendar-grid">
        {WEEKDAYS.map((w) => (
          <span key={w} className="weekday" aria-hidden="true">{w}</span>
        ))}
        {Array.from({ length: lead }, (_, i) => <span key={`e${i}`} />)}
        {Array.from({ length: daysIn }, (_, i) => {
          const d = `${month}-${String(i + 1).padStart(2, '0')}`;
          const n = counts.get(d) ?? 0;
          const label = `${new Date(y, mo - 1, i + 1).toLocaleDateString('en-GB', { day: 'numeric', month: 'long' })}: ${n === 0 ? 'no recovery points' : plural(n, 'recovery point')}`;
          return (
            <button key={d} type="button" className={`day${n > 0 ? ' has-points' : ''}${d === day ? ' chosen' : ''}`} disabled={n === 0} aria-label={label} aria-pressed={d === day} onClick={() => onDay(d)}>
              {i + 1}
            </button>
          );
        })}
      </div>
    </div>
  );
}

function DayTimes({ points, chosen, onChoose }: { points: readonly RecoveryPoint[]; chosen: string; onChoose: (p: RecoveryPoint) => void }) {
  return (
    <ul className="times" aria-label="Recovery points of the day">
      {points.map((p) => (
        <li key={p.id}>
          <button type="button" className={p.id === chosen ? '' : 'secondary'} aria-pressed={p.id === chosen} onClick={() => onChoose(p)}>
            {new Date(p.time).toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit' })}
          </button>
        </li>
      ))}
    </ul>
  );
}

function Tree(props: {
  source: string;
  point: RecoveryPoint;
  path: string;
  onPath: (p: string) => void;
  selected: ReadonlySet<string>;
  onSelect: (s: ReadonlySet<string>) => void;
  onVersions: (path: string) => void;
}) {
  const { source, point, path, selected } = props;
  const listing = useLoad(() => call(api.browse, { params: { id: source }, query: { point: point.id, path, limit: 500 } }), [source, point.id, path]);
  const [extra, setExtra] = useState<{ readonly items: FileItem[]; readonly next: string | null } | null>(null);
  useEffect(() => setExtra(null), [source, point.id, path]);
  const items = [...(listing.data?.items ?? []), ...(extra?.items ?? [])];
  const next = extra ? extra.next : (listing.data?.next ?? null);
  const showMore = async () => {
    if (!next) return;
    const page = await call(api.browse, { params: { id: source }, query: { point: point.id, path, limit: 500, after: next } });
    setExtra({ items: [...(extra?.items ?? []), ...page.items], next: page.next });
  };
  const child = (name: string) => (path ? `${path}/${name}` : name);
  const toggle = (p: string) => {
    const s = new Set(selected);
    if (s.has(p)) s.delete(p);
    else s.add(p);
    props.onSelect(s);
  };
  const parts = path ? path.split('/') : [];
  return (
    <div>
      <nav aria-label="Path in the recovery point" className="crumbs">
        <button type="button" className="link" onClick={() => props.onPath('')}>{source.slice(source.indexOf(':', source.indexOf(':') + 1) + 1) || '/'}</button>
        {parts.map((part, i) => (
          <span key={i}>
            {' / '}
            <button type="button" className="link" onClick={() => props.onPath(parts.slice(0, i + 1).join('/'))}>{part}</button>
          </span>
        ))}
      </nav>
      {listing.error && <p className="error">{listing.error}</p>}
      {listing.data && items.length === 0 && <p className="empty">This folder is empty in this recovery point.</p>}
      {items.length > 0 && (
        <table className="files">
          <thead>
            <tr>
              <th><span className="sr-only">Select</span></th>
              <th>Name</th>
              <th>Size</th>
              <th>Modified</th>
              <th>Owner</th>
              <th><span className="sr-only">Versions</span></th>
            </tr>
          </thead>
          <tbody>
            {items.map((it) => {
              const p = child(it.name);
              const plain = it.nameBase64 === undefined;
              return (
                <tr key={p} data-item={p}>
                  <td>
                    <input type="checkbox" aria-label={`Select ${it.name}`} checked={selected.has(p)} disabled={!plain} onChange={() => toggle(p)} />
                  </td>
                  <td>
                    {it.type === 'dir' && plain ? (
                      <button type="button" className="link" onClick={() => props.onPath(p)}>{it.name}/</button>
                    ) : (
                      <span>{it.type === 'symlink' ? '↪ ' : ''}{it.name}{it.target ? ` → ${it.target}` : ''}</span>
                    )}
                    {it.error && <span className="error"> (not read: {it.error})</span>}
                  </td>
                  <td>{it.type === 'file' ? formatBytes(it.size) : ''}</td>
                  <td>{formatTime(it.mtime)}</td>
                  <td>{it.user ?? it.uid}</td>
                  <td>
                    {it.type === 'file' && plain && (
                      <button type="button" className="link" onClick={() => props.onVersions(p)} aria-label={`Versions of ${it.name}`}>versions</button>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {next && (
        <button type="button" className="secondary" onClick={() => void showMore()}>
          Show more
        </button>
      )}
    </div>
  );
}

function Search({ source, onOpen }: { source: string; onOpen: (path: string, at: RecoveryPoint | null) => void }) {
  const [asked, setAsked] = useState('');
  const hits = useLoad(() => (asked ? call(api.search, { params: { id: source }, query: { pattern: asked, limit: 200 } }) : Promise.resolve(null)), [source, asked]);
  const points = useLoad(() => call(api.listPoints, { params: { id: source } }), [source]);
  return (
    <div>
      <PatternSearch placeholder="*.tex, docs/**/report*" onSearch={setAsked} />
      {hits.error && <p className="error">{hits.error}</p>}
      {hits.data && (
        <>
          <p className="muted">
            {plural(hits.data.hits.length, 'match', 'matches')} in {plural(hits.data.pointsSearched, 'recovery point')}
            {hits.data.truncated ? ' (more matched: narrow the pattern)' : ''}
          </p>
          <table>
            <thead>
              <tr><th>Path</th><th>Size</th><th>First seen</th><th>Last seen</th><th>Points</th></tr>
            </thead>
            <tbody>
              {hits.data.hits.map((h) => {
                const dir = h.path.includes('/') ? h.path.slice(0, h.path.lastIndexOf('/')) : '';
                const last = (points.data ?? []).find((p) => p.id === h.last.id) ?? null;
                return (
                  <tr key={h.path} data-hit={h.path}>
                    <td><button type="button" className="link" onClick={() => onOpen(h.type === 'dir' ? h.path : dir, last)}>{h.path}</button></td>
                    <td>{h.type === 'file' ? formatBytes(h.size) : h.type}</td>
                    <td>{formatTime(h.first.time)}</td>
                    <td>{formatTime(h.last.time)}</td>
                    <td>{h.points}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </>
      )}
    </div>
  );
}

function Versions({ source, path, onClose, onChoose }: { source: string; path: string; onClose: () => void; onChoose: (p: { id: string }) => void }) {
  const v = useLoad(() => call(api.versions, { params: { id: source }, query: { path } }), [source, path]);
  return <VersionsDialog path={path} loaded={v} pointsLabel="In recovery points" onPoint={onChoose} onClose={onClose} />;
}
