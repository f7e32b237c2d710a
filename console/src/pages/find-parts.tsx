/** What Recovery and My files share to find a file: the pattern search form and a file's versions. */
import { useState } from 'react';
import { formatBytes, formatTime } from '../format.js';
import type { Loaded } from '../load.js';

/** A pattern to search every recovery point for; `onSearch` gets it trimmed. */
export function PatternSearch({ placeholder, onSearch }: { placeholder: string; onSearch: (pattern: string) => void }) {
  const [pattern, setPattern] = useState('');
  return (
    <form className="bar" onSubmit={(e) => {
      e.preventDefault();
      onSearch(pattern.trim());
    }}>
      <label>
        Pattern
        <input value={pattern} onChange={(e) => setPattern(e.target.value)} placeholder={placeholder} maxLength={1024} required />
      </label>
      <button type="submit">Search</button>
    </form>
  );
}

type PointRef = { readonly id: string; readonly time: string };
type Version = { readonly size: number; readonly mtime: string; readonly points: readonly PointRef[] };

/** A file's versions in a dialog: size, modification time and the recovery points holding each, as buttons (`onPoint`). */
export function VersionsDialog(props: { path: string; loaded: Loaded<{ versions: readonly Version[] }>; pointsLabel: string; onPoint: (p: PointRef, v: Version) => void; onClose: () => void }) {
  const { loaded: v } = props;
  return (
    <div className="dialog-backdrop">
      <div role="dialog" aria-modal="true" aria-labelledby="versions-title" className="dialog">
        <h2 id="versions-title">Versions of {props.path}</h2>
        {v.error && <p className="error">{v.error}</p>}
        {v.data && (
          <table>
            <thead>
              <tr><th>Size</th><th>Modified</th><th>{props.pointsLabel}</th></tr>
            </thead>
            <tbody>
              {v.data.versions.map((x, i) => (
                <tr key={i}>
                  <td>{formatBytes(x.size)}</td>
                  <td>{formatTime(x.mtime)}</td>
                  <td>
                    {x.points.map((p) => (
                      <button key={p.id} type="button" className="link" onClick={() => props.onPoint(p, x)}>{formatTime(p.time)}</button>
                    ))}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        <button type="button" className="secondary" onClick={props.onClose} autoFocus>Close</button>
      </div>
    </div>
  );
}
