/**
 * The recover dialog: where to (the original place, a folder on a computer,
 * a folder of this server, or a download), what to do with items that are
 * already there, whose permissions, and how fast. A recovery becomes a job
 * followed live; a download is saved by the browser once the archive is
 * whole (its end marker checked: a cut archive is never offered).
 */
import { useState, type FormEvent } from 'react';
import { api } from '../../../src/protocol/rest/contract.js';
import type { Job, RecoveryPoint, RecoveryRequest } from '../../../src/protocol/rest/objects.js';
import { call, saveBlob, stream } from '../api.js';
import { formatTime, plural } from '../format.js';
import { useLive } from '../live.js';
import { useLoad } from '../load.js';
import { href } from '../route.js';

type Target = 'original' | 'agent' | 'server' | 'download';
type Format = 'tar' | 'zip';

/** Whether a data source id names a PostgreSQL cluster (AGENT:postgres:PORT): its points are recovered whole, to a folder on a computer. */
export function isClusterSource(source: string): boolean {
  return source.split(':')[1] === 'postgres';
}

export function RecoverDialog({ source, point, items, onClose }: { source: string; point: RecoveryPoint; items: string[]; onClose: () => void }) {
  const agentOfSource = source.slice(0, source.indexOf(':'));
  const cluster = isClusterSource(source);
  const [target, setTarget] = useState<Target>(cluster ? 'agent' : 'original');
  const [paused, setPaused] = useState(false);
  const [agent, setAgent] = useState(agentOfSource);
  const [path, setPath] = useState('');
  const [format, setFormat] = useState<Format>('zip');
  const [conflict, setConflict] = useState<NonNullable<RecoveryRequest['conflict']>>('overwrite');
  const [security, setSecurity] = useState<NonNullable<RecoveryRequest['security']>>('point');
  const [throttle, setThrottle] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [job, setJob] = useState<Job | null>(null);
  const [saved, setSaved] = useState<string | null>(null);

  const what = items.length > 0 ? plural(items.length, 'item') : 'the whole recovery point';

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    setBusy(true);
    try {
      if (target === 'download') {
        setSaved(await download(source, point, items, format));
      } else {
        const to = target === 'original' ? 'original' : target === 'server' ? `server:${path}` : `${agent}:${path}`;
        const how = cluster ? (paused ? { paused: true } : {}) : { conflict, security };
        setJob(await call(api.recover, {
          body: { source, point: point.id, to, ...(items.length > 0 ? { items } : {}), ...how, ...(throttle.trim() ? { throttle: [throttle.trim()] } : {}) },
        }));
      }
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="dialog-backdrop">
      <div role="dialog" aria-modal="true" aria-labelledby="recover-title" className="dialog wide">
        <h2 id="recover-title">
          Recover {what} from {formatTime(point.time)}
        </h2>
        {items.length > 0 && (
          <ul className="chosen-items">
            {items.slice(0, 8).map((i) => <li key={i}>{i}</li>)}
            {items.length > 8 && <li>… and {plural(items.length - 8, 'more item')}</li>}
          </ul>
        )}
        {job ? (
          <Followed job={job} />
        ) : saved ? (
          <p role="status" className="note">{saved}</p>
        ) : (
          <form onSubmit={(e) => void submit(e)}>
            {cluster && (
              <p className="note">
                A PostgreSQL cluster is recovered whole into a new folder on a computer: a data directory that starts as a working cluster
                (its RECOVERY.txt says how). Recovery over the running cluster is not built yet.
              </p>
            )}
            <fieldset>
              <legend>Recover to</legend>
              {!cluster && <label><input type="radio" name="target" checked={target === 'original'} onChange={() => setTarget('original')} /> The original location ({source})</label>}
              <label><input type="radio" name="target" checked={target === 'agent'} onChange={() => setTarget('agent')} /> A folder on a protected computer</label>
              {target === 'agent' && (
                <div className="indent">
                  <label>Computer (agent) <input value={agent} onChange={(e) => setAgent(e.target.value.trim())} required maxLength={63} /></label>
                  <label>Folder on the computer <input value={path} onChange={(e) => setPath(e.target.value)} placeholder="/tmp/recovered" required pattern="/.*" maxLength={4000} /></label>
                </div>
              )}
              {!cluster && <label><input type="radio" name="target" checked={target === 'server'} onChange={() => setTarget('server')} /> A folder of this protection server (under its --recovery-dir)</label>}
              {target === 'server' && (
                <div className="indent">
                  <label>Folder on the server <input value={path} onChange={(e) => setPath(e.target.value)} placeholder="/srv/recovered/case-42" required pattern="/.*" maxLength={4000} /></label>
                </div>
              )}
              {!cluster && <label><input type="radio" name="target" checked={target === 'download'} onChange={() => setTarget('download')} /> Download an archive to this browser</label>}
              {target === 'download' && (
                <div className="indent">
                  <label>Format
                    <select value={format} onChange={(e) => setFormat(e.target.value as Format)}>
                      <option value="zip">zip</option>
                      <option value="tar">tar (keeps owners and modes)</option>
                    </select>
                  </label>
                </div>
              )}
            </fieldset>
            {cluster && (
              <label><input type="checkbox" checked={paused} onChange={(e) => setPaused(e.target.checked)} /> Stop at the point, read-only, to look at it before promoting it (paused)</label>
            )}
            {target !== 'download' && !cluster && (
              <>
                <fieldset>
                  <legend>When a different item is already there</legend>
                  <label><input type="radio" name="conflict" checked={conflict === 'overwrite'} onChange={() => setConflict('overwrite')} /> Overwrite it</label>
                  <label><input type="radio" name="conflict" checked={conflict === 'skip'} onChange={() => setConflict('skip')} /> Skip it</label>
                  <label><input type="radio" name="conflict" checked={conflict === 'keep-both'} onChange={() => setConflict('keep-both')} /> Keep both (the recovered one as NAME.restored)</label>
                </fieldset>
                <fieldset>
                  <legend>Permissions</legend>
                  <label><input type="radio" name="security" checked={security === 'point'} onChange={() => setSecurity('point')} /> As in the recovery point (owners, modes, ACLs)</label>
                  <label><input type="radio" name="security" checked={security === 'target'} onChange={() => setSecurity('target')} /> As the target folder gives them</label>
                </fieldset>
                <label>Throttle (optional) <input value={throttle} onChange={(e) => setThrottle(e.target.value)} placeholder="20MiB/s or 5MiB/s@mon-fri,08:00-18:00" maxLength={80} /></label>
              </>
            )}
            {error && <p role="alert" className="error">{error}</p>}
            <div className="dialog-buttons">
              <button type="submit" disabled={busy}>{busy ? 'Working…' : target === 'download' ? 'Download' : 'Recover'}</button>
              <button type="button" className="secondary" onClick={onClose}>Cancel</button>
            </div>
          </form>
        )}
        {(job || saved) && (
          <div className="dialog-buttons">
            <button type="button" className="secondary" onClick={onClose} autoFocus>Close</button>
          </div>
        )}
      </div>
    </div>
  );
}

/** A recovery job, followed live until it ends. */
function Followed({ job }: { job: Job }) {
  const live = useLive('jobs');
  const j = useLoad(() => call(api.getJob, { params: { id: String(job.id) } }), [job.id, live]).data ?? job;
  return (
    <p role="status" className="note" data-recovery-job={j.id} data-state={j.state}>
      Recovery job <a href={href('monitoring', 'jobs', String(j.id))}>{j.id}</a> is {j.state}
      {j.state === 'failed' && j.error ? `: ${j.error}` : '.'}
    </p>
  );
}

/** Fetches the archive, checks it is whole, and hands it to the browser to save; returns what to tell the user. */
async function download(source: string, point: RecoveryPoint, items: string[], format: Format): Promise<string> {
  const res = await stream(api.download, { params: { id: source }, body: { point: point.id, format, ...(items.length > 0 ? { items } : {}) } });
  const blob = await res.blob();
  const tail = new Uint8Array(await blob.slice(Math.max(0, blob.size - 1024)).arrayBuffer());
  if (!archiveEnds(tail, format)) throw new Error('the archive was cut short (the server stopped sending it): nothing was saved; try again, or see the server log');
  return saveBlob(blob, res, `custos-recovery.${format}`);
}

/** Whether an archive's last bytes are its proper end: two zero blocks for tar, the end-of-central-directory record for zip. */
export function archiveEnds(tail: Uint8Array, format: Format): boolean {
  if (format === 'tar') return tail.length >= 1024 && tail.every((b) => b === 0);
  for (let i = tail.length - 22; i >= 0; i--) {
    if (tail[i] === 0x50 && tail[i + 1] === 0x4b && tail[i + 2] === 0x05 && tail[i + 3] === 0x06) return true;
  }
  return false;
}
