/**
 * The wizard's members step: data sources as AGENT:fs:/path, picked by
 * browsing the computer's live file system through its agent (GET
 * /api/agents/:name/files) or typed.
 */
import { useState } from 'react';
import type { LiveEntry } from '../../../src/protocol/rest/objects.js';
import { formatBytes } from '../format.js';
import { api } from '../../../src/protocol/rest/contract.js';
import { call } from '../api.js';
import { useLoad } from '../load.js';

export function MemberPicker({ sources, onChange }: { sources: string[]; onChange: (s: string[]) => void }) {
  const agents = useLoad(() => call(api.listAgents), []);
  const [agent, setAgent] = useState('');
  const [path, setPath] = useState('');
  const chosenAgent = agent || agents.data?.[0]?.name || '';
  const add = () => {
    const p = path.trim().replace(/\/+$/, '') || '/';
    if (!chosenAgent || !p.startsWith('/')) return;
    const id = `${chosenAgent}:fs:${p}`;
    if (!sources.includes(id)) onChange([...sources, id]);
    setPath('');
  };
  return (
    <div>
      {agents.error && <p className="error">{agents.error}</p>}
      {agents.data && agents.data.length === 0 && <p className="note">No computer is attached yet: attach one first (Management → Agents, or custos agent token).</p>}
      <ul className="chips">
        {sources.map((s) => (
          <li key={s}><code>{s}</code> <button type="button" className="link" aria-label={`Remove ${s}`} onClick={() => onChange(sources.filter((x) => x !== s))}>×</button></li>
        ))}
      </ul>
      <div className="bar">
        <label>
          Computer
          <select value={chosenAgent} onChange={(e) => setAgent(e.target.value)}>
            {(agents.data ?? []).map((a) => <option key={a.name} value={a.name}>{a.name} ({a.status})</option>)}
          </select>
        </label>
        <label>
          Folder to protect
          <input value={path} onChange={(e) => setPath(e.target.value)} placeholder="/home" maxLength={4000} onKeyDown={(e) => { if (e.key === 'Enter') { e.preventDefault(); add(); } }} />
        </label>
        <button type="button" className="secondary" onClick={add} disabled={!path.trim().startsWith('/') || !chosenAgent}>Add member</button>
      </div>
      {chosenAgent && <LiveBrowser agent={chosenAgent} chosen={sources} onToggle={(p) => {
        const id = `${chosenAgent}:fs:${p}`;
        onChange(sources.includes(id) ? sources.filter((x) => x !== id) : [...sources, id]);
      }} />}
    </div>
  );
}

/** The computer's folders as its agent lists them now, a page at a time; a box ticks a folder as a member. */
function LiveBrowser({ agent, chosen, onToggle }: { agent: string; chosen: string[]; onToggle: (path: string) => void }) {
  const [dir, setDir] = useState('/');
  const [more, setMore] = useState<{ entries: LiveEntry[]; next: string | null } | null>(null);
  const listing = useLoad(() => {
    setMore(null);
    return call(api.browseAgent, { params: { name: agent }, query: { path: dir, limit: 500 } });
  }, [agent, dir]);
  const entries = [...(listing.data?.entries ?? []), ...(more?.entries ?? [])];
  const next = more ? more.next : (listing.data?.next ?? null);
  const child = (name: string) => (dir === '/' ? `/${name}` : `${dir}/${name}`);
  const parent = dir === '/' ? null : dir.slice(0, dir.lastIndexOf('/')) || '/';
  const showMore = async () => {
    if (!next) return;
    const page = await call(api.browseAgent, { params: { name: agent }, query: { path: dir, limit: 500, after: next } });
    setMore({ entries: [...(more?.entries ?? []), ...page.entries], next: page.next });
  };
  return (
    <div className="live-browser" aria-label={`Folders of ${agent}`} role="group">
      <div className="bar">
        <strong>{agent}: {dir}</strong>
        {parent !== null && <button type="button" className="secondary" onClick={() => setDir(parent)}>Up</button>}
        <label className="inline">
          <input type="checkbox" checked={chosen.includes(`${agent}:fs:${dir}`)} onChange={() => onToggle(dir)} /> protect {dir}
        </label>
      </div>
      {listing.error && <p className="error">{listing.error}</p>}
      <ul className="live-entries">
        {entries.filter((e) => e.type === 'dir' && e.nameBase64 === undefined).map((e) => (
          <li key={e.name} data-live={child(e.name)}>
            <input type="checkbox" aria-label={`Protect ${child(e.name)}`} checked={chosen.includes(`${agent}:fs:${child(e.name)}`)} onChange={() => onToggle(child(e.name))} />
            <button type="button" className="link" onClick={() => setDir(child(e.name))}>{e.name}/</button>
            {e.mountPoint && <span className="badge">another file system</span>}
          </li>
        ))}
      </ul>
      <p className="muted">
        {entries.filter((e) => e.type !== 'dir').length > 0 && `${entries.filter((e) => e.type !== 'dir').length} files here (${formatBytes(entries.reduce((n, e) => n + e.size, 0))}), not listed. `}
        {next && <button type="button" className="link" onClick={() => void showMore()}>Show more</button>}
      </p>
    </div>
  );
}
