/**
 * My files: a console user linked to an account on a protected computer
 * browses, searches and downloads what that account could read when each
 * recovery point was taken — nothing else (the server decides, with the
 * same rules as `custos my` on the computer).
 */
import { useEffect, useState } from 'react';
import { api } from '../../../src/protocol/rest/contract.js';
import type { MyFiles as MyFilesAnswer, MyListing, Session } from '../../../src/protocol/rest/objects.js';
import { call, saveBlob, stream } from '../api.js';
import { formatBytes, formatTime, plural } from '../format.js';
import { useLoad } from '../load.js';
import { PatternSearch, VersionsDialog } from './find-parts.js';

type Source = MyFilesAnswer['sources'][number];
type PointRef = { readonly id: string; readonly time: string };

export function MyFiles(_: { route: string[]; session: Session }) {
  const me = useLoad(() => call(api.myFiles), []);
  const [chosen, setChosen] = useState<string | null>(null);
  const sources = me.data?.sources ?? [];
  const source = sources.find((s) => s.id === chosen) ?? sources[0] ?? null;
  return (
    <section aria-labelledby="my-title">
      <div className="bar">
        <h1 id="my-title">My files</h1>
        {me.data && (
          <span className="muted">
            as {me.data.account} on {me.data.agent}
            {!me.data.connected && ` (the computer is not connected now: your access is as it was at ${formatTime(me.data.checkedAt)})`}
          </span>
        )}
      </div>
      {me.error && <p className="error">{me.error}</p>}
      {me.data && sources.length === 0 && (
        <p className="empty">No folder of {me.data.agent} is open to end-user recovery: ask your administrator to switch it on for its protection group.</p>
      )}
      {sources.length > 1 && (
        <label>
          Folder
          <select value={source?.id ?? ''} onChange={(e) => setChosen(e.target.value)}>
            {sources.map((s) => (
              <option key={s.id} value={s.id}>{s.path}</option>
            ))}
          </select>
        </label>
      )}
      {source && <SourceFiles key={source.id} source={source} />}
    </section>
  );
}

function SourceFiles({ source }: { source: Source }) {
  const [point, setPoint] = useState<PointRef | null>(source.points[0] ?? null);
  const [dir, setDir] = useState(source.path);
  const [tab, setTab] = useState<'browse' | 'search'>('browse');
  const [versionsOf, setVersionsOf] = useState<string | null>(null);
  const [said, setSaid] = useState<string | null>(null);
  if (!point) return <p className="empty">{source.path} has no recovery points yet.</p>;

  /** Fetches the file and saves it only when whole: `size` is what the listing said the point holds. */
  const download = async (path: string, at: PointRef, size: number) => {
    setSaid(null);
    try {
      const res = await stream(api.myDownload, { query: { path, point: at.id } });
      const blob = await res.blob();
      if (blob.size !== size) throw new Error(`the download was cut short (${formatBytes(blob.size)} of ${formatBytes(size)}): nothing was saved; try again`);
      setSaid(saveBlob(blob, res, path.split('/').at(-1) ?? 'file'));
    } catch (err) {
      setSaid(err instanceof Error ? err.message : String(err));
    }
  };

  return (
    <div>
      <div className="point-bar">
        <label>
          Recovery point
          <select value={point.id} onChange={(e) => setPoint(source.points.find((p) => p.id === e.target.value) ?? point)}>
            {source.points.map((p, i) => (
              <option key={p.id} value={p.id}>{formatTime(p.time)}{i === 0 ? ' (newest)' : ''}</option>
            ))}
          </select>
        </label>
        <span className="muted">{plural(source.points.length, 'recovery point')} of {source.path}</span>
      </div>
      <nav className="tabs" aria-label="Find your files">
        <button type="button" className={tab === 'browse' ? 'tab current' : 'tab'} aria-pressed={tab === 'browse'} onClick={() => setTab('browse')}>Browse</button>
        <button type="button" className={tab === 'search' ? 'tab current' : 'tab'} aria-pressed={tab === 'search'} onClick={() => setTab('search')}>Search all points</button>
      </nav>
      {said && <p role="status" className="note">{said}</p>}
      {tab === 'browse' ? (
        <Folder root={source.path} dir={dir} point={point} onDir={setDir} onDownload={(p, size) => void download(p, point, size)} onVersions={setVersionsOf} />
      ) : (
        <Search root={source.path} onOpen={(d, at) => {
          const full = source.points.find((p) => p.id === at.id);
          if (full) setPoint(full);
          setDir(d);
          setTab('browse');
        }} />
      )}
      {versionsOf && <Versions path={versionsOf} onClose={() => setVersionsOf(null)} onDownload={(at, size) => void download(versionsOf, at, size)} />}
    </div>
  );
}

function Folder(props: { root: string; dir: string; point: PointRef; onDir: (d: string) => void; onDownload: (path: string, size: number) => void; onVersions: (path: string) => void }) {
  const { root, dir, point } = props;
  const listing = useLoad(() => call(api.myBrowse, { query: { path: dir, point: point.id, limit: 500 } }), [dir, point.id]);
  const [extra, setExtra] = useState<{ readonly items: MyListing['items']; readonly next: string | null } | null>(null);
  useEffect(() => setExtra(null), [dir, point.id]);
  const items = [...(listing.data?.items ?? []), ...(extra?.items ?? [])];
  const next = extra ? extra.next : (listing.data?.next ?? null);
  const showMore = async () => {
    if (!next) return;
    const page = await call(api.myBrowse, { query: { path: dir, point: point.id, limit: 500, after: next } });
    setExtra({ items: [...(extra?.items ?? []), ...page.items], next: page.next });
  };
  const child = (name: string) => (dir === '/' ? `/${name}` : `${dir}/${name}`);
  const below = dir === root ? [] : dir.slice(root === '/' ? 1 : root.length + 1).split('/');
  const join = (n: number) => (n === 0 ? root : `${root === '/' ? '' : root}/${below.slice(0, n).join('/')}`);
  return (
    <div>
      <nav aria-label="Folder" className="crumbs">
        <button type="button" className="link" onClick={() => props.onDir(root)}>{root}</button>
        {below.map((part, i) => (
          <span key={i}>
            {' / '}
            <button type="button" className="link" onClick={() => props.onDir(join(i + 1))}>{part}</button>
          </span>
        ))}
      </nav>
      {listing.error && <p className="error">{listing.error}</p>}
      {listing.data && items.length === 0 && <p className="empty">Nothing here you could read in this recovery point.</p>}
      {items.length > 0 && (
        <table className="files" aria-label="Files">
          <thead>
            <tr><th>Name</th><th>Size</th><th>Modified</th><th><span className="sr-only">Actions</span></th></tr>
          </thead>
          <tbody>
            {items.map((it) => {
              const p = child(it.name);
              return (
                <tr key={p} data-my-item={p}>
                  <td>
                    {it.type === 'dir' ? (
                      <button type="button" className="link" onClick={() => props.onDir(p)}>{it.name}/</button>
                    ) : (
                      <span>{it.name}</span>
                    )}
                  </td>
                  <td>{it.type === 'file' ? formatBytes(it.size) : ''}</td>
                  <td>{formatTime(it.mtime)}</td>
                  <td className="actions">
                    {it.type === 'file' && (
                      <>
                        <button type="button" className="secondary" onClick={() => props.onDownload(p, it.size)} aria-label={`Download ${it.name}`}>Download</button>
                        <button type="button" className="link" onClick={() => props.onVersions(p)} aria-label={`Versions of ${it.name}`}>versions</button>
                      </>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {next && <button type="button" className="secondary" onClick={() => void showMore()}>Show more</button>}
    </div>
  );
}

function Search({ root, onOpen }: { root: string; onOpen: (dir: string, at: PointRef) => void }) {
  const [asked, setAsked] = useState('');
  const hits = useLoad(() => (asked ? call(api.mySearch, { query: { path: root, pattern: asked, limit: 200 } }) : Promise.resolve(null)), [root, asked]);
  return (
    <div>
      <PatternSearch placeholder="*.odt, report*" onSearch={setAsked} />
      {hits.error && <p className="error">{hits.error}</p>}
      {hits.data && (
        <>
          <p className="muted">{plural(hits.data.hits.length, 'match', 'matches')}</p>
          <table aria-label="Matches">
            <thead>
              <tr><th>Path</th><th>Size</th><th>First seen</th><th>Last seen</th><th>Points</th></tr>
            </thead>
            <tbody>
              {hits.data.hits.map((h) => (
                <tr key={h.path} data-my-hit={h.path}>
                  <td>
                    <button type="button" className="link" onClick={() => onOpen(h.type === 'dir' ? h.path : h.path.slice(0, h.path.lastIndexOf('/')) || '/', h.last)}>{h.path}</button>
                  </td>
                  <td>{h.type === 'file' ? formatBytes(h.size) : h.type}</td>
                  <td>{formatTime(h.first.time)}</td>
                  <td>{formatTime(h.last.time)}</td>
                  <td>{h.points}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </div>
  );
}

function Versions({ path, onClose, onDownload }: { path: string; onClose: () => void; onDownload: (at: PointRef, size: number) => void }) {
  const v = useLoad(() => call(api.myVersions, { query: { path } }), [path]);
  return <VersionsDialog path={path} loaded={v} pointsLabel="Download from" onPoint={(p, x) => onDownload(p, x.size)} onClose={onClose} />;
}
