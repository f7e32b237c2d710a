/** The wizard's members step: data sources as AGENT:fs:/path, added by typing a folder on an attached computer. */
import { useState } from 'react';
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
    </div>
  );
}
