/**
 * Management → Notifications: the mail server, who is mailed about which
 * alerts, webhooks, the daily digest, and a test that says what failed and
 * why. Passwords and webhook secrets are sent, never shown again.
 */
import { useState, type FormEvent } from 'react';
import { api, roleAllows } from '../../../src/protocol/rest/contract.js';
import { SEVERITIES, SMTP_TLS_MODES, type NotifyTestAnswer, type Session, type Severity, type SmtpTlsMode } from '../../../src/protocol/rest/objects.js';
import { call } from '../api.js';
import { useLoad } from '../load.js';
import { messageOf } from './management-parts.js';

export function Notifications({ session }: { session: Session }) {
  const canConfigure = roleAllows(session.role, 'configure');
  return (
    <section aria-labelledby="notify-title" className="notify">
      <h1 id="notify-title">Notifications</h1>
      <Smtp canConfigure={canConfigure} />
      <Recipients canConfigure={canConfigure} />
      <Webhooks canConfigure={canConfigure} />
      <Digest canConfigure={canConfigure} />
      {canConfigure && <TestSend />}
    </section>
  );
}

function Smtp({ canConfigure }: { canConfigure: boolean }) {
  const smtp = useLoad(() => call(api.getSmtp), []);
  const [form, setForm] = useState<{ host: string; port: string; tls: SmtpTlsMode; user: string; password: string; from: string } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const s = smtp.data?.smtp ?? null;
  const edit = () => setForm({ host: s?.host ?? '', port: s ? String(s.port) : '', tls: s?.tls ?? 'starttls', user: s?.user ?? '', password: '', from: s?.from ?? '' });
  const save = async (e: FormEvent) => {
    e.preventDefault();
    if (!form) return;
    setError(null);
    try {
      await call(api.setSmtp, {
        body: { host: form.host, tls: form.tls, from: form.from, ...(form.port ? { port: Number(form.port) } : {}), ...(form.user ? { user: form.user } : {}), ...(form.password ? { password: form.password } : {}) },
      });
      setForm(null);
      smtp.reload();
    } catch (err) {
      setError(messageOf(err));
    }
  };
  return (
    <div className="notify-part">
      <h2>Mail server</h2>
      {smtp.error && <p className="error">{smtp.error}</p>}
      {smtp.data && !form && (
        <p>
          {s ? `${s.host}:${s.port} (${s.tls}), from ${s.from}${s.user ? `, as ${s.user}${s.passwordSet ? ' with a password' : ''}` : ''}` : 'None set: no mail is sent.'}{' '}
          {canConfigure && <button type="button" className="secondary" onClick={edit}>{s ? 'Change' : 'Set the mail server'}</button>}
        </p>
      )}
      {form && (
        <form onSubmit={(e) => void save(e)} className="form-grid">
          <label>Host <input value={form.host} onChange={(e) => setForm({ ...form, host: e.target.value.trim() })} required maxLength={253} /></label>
          <label>Port <input type="number" min={1} max={65535} value={form.port} onChange={(e) => setForm({ ...form, port: e.target.value })} placeholder="587" /></label>
          <label>
            Security
            <select value={form.tls} onChange={(e) => setForm({ ...form, tls: e.target.value as SmtpTlsMode })}>
              {SMTP_TLS_MODES.map((m) => <option key={m} value={m}>{m === 'starttls' ? 'STARTTLS (required)' : m === 'implicit' ? 'TLS from the start' : 'none (this computer only)'}</option>)}
            </select>
          </label>
          <label>Sender address <input type="email" value={form.from} onChange={(e) => setForm({ ...form, from: e.target.value.trim() })} required maxLength={254} /></label>
          <label>User (optional) <input value={form.user} onChange={(e) => setForm({ ...form, user: e.target.value })} maxLength={256} autoComplete="off" /></label>
          <label>Password (optional; empty keeps the stored one) <input type="password" value={form.password} onChange={(e) => setForm({ ...form, password: e.target.value })} maxLength={1024} autoComplete="new-password" /></label>
          {error && <p role="alert" className="error">{error}</p>}
          <div className="dialog-buttons">
            <button type="submit">Save mail server</button>
            <button type="button" className="secondary" onClick={() => setForm(null)}>Cancel</button>
          </div>
        </form>
      )}
    </div>
  );
}

function Recipients({ canConfigure }: { canConfigure: boolean }) {
  const list = useLoad(() => call(api.listRecipients), []);
  const [address, setAddress] = useState('');
  const [severity, setSeverity] = useState<Severity>('warning');
  const [resolved, setResolved] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const add = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      await call(api.setRecipient, { body: { address: address.trim(), severity, resolved } });
      setAddress('');
      list.reload();
    } catch (err) {
      setError(messageOf(err));
    }
  };
  const remove = async (a: string) => {
    try {
      await call(api.removeRecipient, { params: { address: a } });
      list.reload();
    } catch (err) {
      setError(messageOf(err));
    }
  };
  return (
    <div className="notify-part">
      <h2>Mail recipients</h2>
      {list.data && list.data.length === 0 && <p className="empty">Nobody is mailed yet.</p>}
      {list.data && list.data.length > 0 && (
        <table>
          <thead><tr><th>Address</th><th>Alerts from</th><th>Groups</th><th>Resolved mails</th>{canConfigure && <th><span className="sr-only">Remove</span></th>}</tr></thead>
          <tbody>
            {list.data.map((r) => (
              <tr key={r.address} data-recipient={r.address}>
                <td>{r.address}</td>
                <td>{r.severity}</td>
                <td>{r.groups.length === 0 ? 'all' : r.groups.join(', ')}</td>
                <td>{r.resolved ? 'yes' : 'no'}</td>
                {canConfigure && <td><button type="button" className="secondary" onClick={() => void remove(r.address)} aria-label={`Stop mailing ${r.address}`}>Remove</button></td>}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {canConfigure && (
        <form onSubmit={(e) => void add(e)} className="bar">
          <label>Address <input type="email" value={address} onChange={(e) => setAddress(e.target.value)} required maxLength={254} /></label>
          <label>
            Alerts from
            <select value={severity} onChange={(e) => setSeverity(e.target.value as Severity)}>
              {SEVERITIES.map((x) => <option key={x} value={x}>{x}</option>)}
            </select>
          </label>
          <label><input type="checkbox" checked={resolved} onChange={(e) => setResolved(e.target.checked)} /> also when resolved</label>
          <button type="submit">Add recipient</button>
        </form>
      )}
      {error && <p role="alert" className="error">{error}</p>}
    </div>
  );
}

function Webhooks({ canConfigure }: { canConfigure: boolean }) {
  const list = useLoad(() => call(api.listWebhooks), []);
  const [url, setUrl] = useState('');
  const [secret, setSecret] = useState('');
  const [error, setError] = useState<string | null>(null);
  const add = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      await call(api.addWebhook, { body: { url: url.trim(), secret } });
      setUrl('');
      setSecret('');
      list.reload();
    } catch (err) {
      setError(messageOf(err));
    }
  };
  const remove = async (id: number) => {
    try {
      await call(api.removeWebhook, { params: { id: String(id) } });
      list.reload();
    } catch (err) {
      setError(messageOf(err));
    }
  };
  return (
    <div className="notify-part">
      <h2>Webhooks</h2>
      <p className="muted">Alerts are posted as JSON, signed with HMAC-SHA256 of the secret in X-Custos-Signature.</p>
      {(list.data ?? []).length > 0 && (
        <ul className="pick-list">
          {(list.data ?? []).map((w) => (
            <li key={w.id}>{w.url} <small>alerts from {w.severity}</small> {canConfigure && <button type="button" className="secondary" onClick={() => void remove(w.id)} aria-label={`Remove webhook ${w.url}`}>Remove</button>}</li>
          ))}
        </ul>
      )}
      {canConfigure && (
        <form onSubmit={(e) => void add(e)} className="bar">
          <label>URL <input type="url" value={url} onChange={(e) => setUrl(e.target.value)} required maxLength={2048} placeholder="https://chat.example.com/hooks/…" /></label>
          <label>Secret <input type="password" value={secret} onChange={(e) => setSecret(e.target.value)} required minLength={16} maxLength={512} autoComplete="off" /></label>
          <button type="submit">Add webhook</button>
        </form>
      )}
      {error && <p role="alert" className="error">{error}</p>}
    </div>
  );
}

function Digest({ canConfigure }: { canConfigure: boolean }) {
  const digest = useLoad(() => call(api.getDigest), []);
  const [error, setError] = useState<string | null>(null);
  const set = async (enabled: boolean, at?: string) => {
    setError(null);
    try {
      await call(api.setDigest, { body: { enabled, ...(at ? { at } : {}) } });
      digest.reload();
    } catch (err) {
      setError(messageOf(err));
    }
  };
  const d = digest.data;
  return (
    <div className="notify-part">
      <h2>Daily digest</h2>
      {d && (
        <div className="bar">
          <label><input type="checkbox" checked={d.enabled} disabled={!canConfigure} onChange={(e) => void set(e.target.checked, d.at)} /> Mail a digest every day at</label>
          <input type="time" aria-label="Digest time" value={d.at} disabled={!canConfigure} onChange={(e) => void set(d.enabled, e.target.value)} />
        </div>
      )}
      {error && <p role="alert" className="error">{error}</p>}
    </div>
  );
}

function TestSend() {
  const [to, setTo] = useState('');
  const [answer, setAnswer] = useState<NotifyTestAnswer | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const send = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      setAnswer(await call(api.testNotifications, { body: to.trim() ? { to: to.trim() } : {} }));
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="notify-part">
      <h2>Test</h2>
      <form onSubmit={(e) => void send(e)} className="bar">
        <label>To (empty: every recipient and webhook) <input type="email" value={to} onChange={(e) => setTo(e.target.value)} maxLength={254} /></label>
        <button type="submit" disabled={busy}>{busy ? 'Sending…' : 'Send a test now'}</button>
      </form>
      {error && <p role="alert" className="error">{error}</p>}
      {answer && (
        <ul role="status" className="pick-list">
          {answer.results.length === 0 && <li>Nothing to send to: add a recipient or a webhook first.</li>}
          {answer.results.map((r, i) => (
            <li key={i} data-test-result={r.ok ? 'ok' : 'failed'}>{r.channel} to {r.destination}: {r.ok ? 'sent' : `failed: ${r.error ?? 'no reason given'}`}</li>
          ))}
        </ul>
      )}
    </div>
  );
}
