/**
 * Management for those who manage access (admins): console users, API
 * tokens (a new secret is shown once) and the audit log, a page at a time.
 */
import { useEffect, useId, useRef, useState, type FormEvent } from 'react';
import { api } from '../../../src/protocol/rest/contract.js';
import type { AuditEntry, Role, Session, Token, TokenCreated, User, UserUpdate } from '../../../src/protocol/rest/objects.js';
import { call } from '../api.js';
import { formatTime } from '../format.js';
import { useLoad } from '../load.js';
import { ConfirmDialog, CopyButton, linkOf, messageOf, RoleFields, ROLE_MEANS, scopeList } from './management-parts.js';

// ---------------------------------------------------------------------------
// Users

export function Users({ session }: { session: Session }) {
  const users = useLoad(() => call(api.listUsers), []);
  const [editing, setEditing] = useState<User | null>(null);
  const [removing, setRemoving] = useState<User | null>(null);
  const [note, setNote] = useState<string | null>(null);
  const now = Date.now();
  const self = (u: User) => session.kind === 'user' && session.name === u.name;
  return (
    <section aria-labelledby="users-title">
      <div className="bar">
        <h1 id="users-title">Users</h1>
        <span className="muted">People who sign in to this console. Scripts use API tokens (Tokens).</span>
      </div>
      <AddUser
        onAdded={(u) => {
          setNote(`User ${u.name} added (${u.role}).`);
          users.reload();
        }}
      />
      {note && (
        <p role="status" className="note">
          {note}
        </p>
      )}
      {users.error && <p className="error">{users.error}</p>}
      {users.data && users.data.length === 0 && <p className="empty">No console users yet.</p>}
      {users.data && users.data.length > 0 && (
        <table aria-label="Users">
          <thead>
            <tr>
              <th>User</th>
              <th>Role</th>
              <th>Scopes</th>
              <th>Linked account</th>
              <th>Added</th>
              <th>Password changed</th>
              <th>Last sign-in</th>
              <th>Locked out</th>
              <th>
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {users.data.map((u) => (
              <tr key={u.name} data-user={u.name}>
                <td className="subject">
                  {u.name}
                  {self(u) && <span className="muted"> (you)</span>}
                </td>
                <td>{u.role}</td>
                <td className="subject">{u.scopes.join(', ') || '—'}</td>
                <td className="subject">{u.link ? `${u.link.account} on ${u.link.agent} (uid ${u.link.uid})` : '—'}</td>
                <td>{formatTime(u.createdAt)}</td>
                <td>{formatTime(u.passwordChangedAt)}</td>
                <td>{formatTime(u.lastSignInAt)}</td>
                <td>
                  {u.lockedUntil && Date.parse(u.lockedUntil) > now ? (
                    <>
                      <span className="badge failed">until {formatTime(u.lockedUntil, true)}</span>
                      <small className="muted">after failed sign-ins; a new password unlocks</small>
                    </>
                  ) : (
                    <span className="muted">no</span>
                  )}
                </td>
                <td className="actions">
                  <button type="button" className="secondary" onClick={() => setEditing(u)} aria-label={`Change user ${u.name}`}>
                    Change
                  </button>
                  {!self(u) && (
                    <button type="button" className="secondary" onClick={() => setRemoving(u)} aria-label={`Remove user ${u.name}`}>
                      Remove
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {editing && (
        <EditUser
          user={editing}
          self={self(editing)}
          onClose={() => setEditing(null)}
          onChanged={(u, what) => {
            setNote(`User ${u.name}: ${what}.`);
            users.reload();
          }}
        />
      )}
      {removing && (
        <ConfirmDialog
          title={`Remove user ${removing.name}?`}
          confirmLabel={`Remove ${removing.name}`}
          onClose={() => setRemoving(null)}
          onConfirm={async () => {
            await call(api.deleteUser, { params: { name: removing.name } });
            setNote(`User ${removing.name} removed.`);
            users.reload();
          }}
        >
          <p>
            {removing.name} ({removing.role}) can no longer sign in, and every session they have open ends now. What they did stays in the audit log.
          </p>
        </ConfirmDialog>
      )}
    </section>
  );
}

/** Two password fields that must match; `problem` is what is wrong with them, if anything. */
function usePasswords(required: boolean) {
  const [password, setPassword] = useState('');
  const [again, setAgain] = useState('');
  const problem =
    password === '' && again === ''
      ? required
        ? 'Type the password twice.'
        : null
      : password.length < 8
        ? 'The password must have at least 8 characters.'
        : password !== again
          ? 'The two passwords differ.'
          : null;
  return { password, again, setPassword, setAgain, problem, reset: () => (setPassword(''), setAgain('')) };
}

function PasswordFields({ pw, label, touched }: { pw: ReturnType<typeof usePasswords>; label: string; touched: boolean }) {
  const id = useId();
  const mismatch = touched && pw.again !== '' && pw.password !== pw.again;
  return (
    <>
      <label>
        {label}
        <input type="password" autoComplete="new-password" value={pw.password} onChange={(e) => pw.setPassword(e.target.value)} maxLength={1024} />
      </label>
      <label>
        {label} again
        <input
          type="password"
          autoComplete="new-password"
          value={pw.again}
          onChange={(e) => pw.setAgain(e.target.value)}
          maxLength={1024}
          aria-invalid={mismatch || undefined}
          aria-describedby={mismatch ? id : undefined}
        />
      </label>
      {mismatch && (
        <span id={id} className="error" role="alert">
          The two passwords differ.
        </span>
      )}
    </>
  );
}

function AddUser({ onAdded }: { onAdded: (u: User) => void }) {
  const [name, setName] = useState('');
  const [role, setRole] = useState<Role>('viewer');
  const [scopes, setScopes] = useState('');
  const [link, setLink] = useState('');
  const pw = usePasswords(true);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const errorId = useId();

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    if (pw.problem) return setError(pw.problem);
    const linked = linkOf(link);
    if (typeof linked === 'string') return setError(linked);
    setBusy(true);
    try {
      const u = await call(api.createUser, {
        body: { name: name.trim(), role, password: pw.password, ...(role === 'recovery-operator' ? { scopes: scopeList(scopes) } : {}), ...(linked ? { link: linked } : {}) },
      });
      setName('');
      setScopes('');
      setLink('');
      pw.reset();
      onAdded(u);
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="panel form" onSubmit={(e) => void submit(e)} aria-labelledby="add-user-title">
      <h2 id="add-user-title">Add a user</h2>
      <div className="fields">
        <label>
          User name
          <input value={name} onChange={(e) => setName(e.target.value)} required maxLength={63} pattern="[A-Za-z0-9._\-]{1,63}" autoComplete="off" />
        </label>
        <RoleFields role={role} scopes={scopes} onRole={setRole} onScopes={setScopes} link={link} onLink={setLink} />
        <PasswordFields pw={pw} label="Password" touched />
      </div>
      <p className="muted">
        {role}: {ROLE_MEANS[role]}.
      </p>
      <div className="bar">
        <button type="submit" disabled={busy} aria-describedby={error ? errorId : undefined}>
          Add user
        </button>
        {error && (
          <span id={errorId} role="alert" className="error">
            {error}
          </span>
        )}
      </div>
    </form>
  );
}

/** Changes a user's role (and scopes) and/or password in a dialog; only what was changed is sent. */
function EditUser({ user, self, onClose, onChanged }: { user: User; self: boolean; onClose: () => void; onChanged: (u: User, what: string) => void }) {
  const [role, setRole] = useState<Role>(user.role === 'damaged' ? 'viewer' : user.role);
  const [scopes, setScopes] = useState(user.scopes.join('\n'));
  const linkWas = user.link ? `${user.link.agent}:${user.link.account}` : '';
  const [link, setLink] = useState(linkWas);
  const pw = usePasswords(false);
  const titleId = useId();
  const errorId = useId();
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [dialog, setDialog] = useState<HTMLDialogElement | null>(null);
  useEffect(() => {
    if (dialog && !dialog.open) dialog.showModal();
    return () => dialog?.close();
  }, [dialog]);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    if (pw.problem) return setError(pw.problem);
    const scopeChange = role === 'recovery-operator' && scopeList(scopes).join('\n') !== user.scopes.join('\n');
    const linked = linkOf(link);
    if (typeof linked === 'string') return setError(linked);
    const body: UserUpdate = {
      ...(role !== user.role ? { role } : {}),
      ...(link.trim() !== linkWas ? { link: linked } : {}),
      ...(role === 'recovery-operator' && (scopeChange || role !== user.role) ? { scopes: scopeList(scopes) } : {}),
      ...(pw.password ? { password: pw.password } : {}),
    };
    if (Object.keys(body).length === 0) return setError('Nothing changed.');
    setBusy(true);
    try {
      const u = await call(api.updateUser, { params: { name: user.name }, body });
      const what = [
        body.role ? `role ${body.role}` : body.scopes ? 'scopes changed' : '',
        body.link !== undefined ? (body.link ? `linked to ${body.link.account} on ${body.link.agent}` : 'unlinked') : '',
        body.password ? 'password changed' : '',
      ].filter(Boolean).join(', ');
      onChanged(u, `${what}; their sessions ended`);
      onClose();
    } catch (err) {
      setError(messageOf(err));
      setBusy(false);
    }
  };
  return (
    <dialog
      ref={setDialog}
      className="confirm"
      aria-modal="true"
      aria-labelledby={titleId}
      onCancel={(e) => {
        e.preventDefault();
        onClose();
      }}
    >
      <form onSubmit={(e) => void submit(e)}>
        <h2 id={titleId}>Change user {user.name}</h2>
        <div className="fields">
          <RoleFields role={role} scopes={scopes} onRole={setRole} onScopes={setScopes} link={link} onLink={setLink} />
          <PasswordFields pw={pw} label="New password" touched />
        </div>
        <p className="muted">
          Leave the password empty to keep it. A change ends {self ? 'your' : `${user.name}'s`} open sessions{self ? ': you will sign in again' : ''}.
        </p>
        <div className="dialog-buttons">
          <button type="submit" disabled={busy} aria-describedby={error ? errorId : undefined}>
            Save changes
          </button>
          <button type="button" className="secondary" onClick={onClose}>
            Cancel
          </button>
        </div>
        {error && (
          <p id={errorId} role="alert" className="error">
            {error}
          </p>
        )}
      </form>
    </dialog>
  );
}

// ---------------------------------------------------------------------------
// Tokens

const TOKEN_EXPIRIES = [
  ['', 'never (until revoked)'],
  ['1d', '1 day'],
  ['30d', '30 days'],
  ['90d', '90 days'],
  ['52w', '1 year'],
] as const;

export function Tokens({ session }: { session: Session }) {
  const tokens = useLoad(() => call(api.listTokens), []);
  const [created, setCreated] = useState<TokenCreated | null>(null);
  const [revoking, setRevoking] = useState<Token | null>(null);
  const [note, setNote] = useState<string | null>(null);
  const [showRevoked, setShowRevoked] = useState(false);
  const list = (tokens.data ?? []).filter((t) => showRevoked || !t.revokedAt);
  return (
    <section aria-labelledby="tokens-title">
      <div className="bar">
        <h1 id="tokens-title">API tokens</h1>
        <span className="muted">For scripts and the command line (CUSTOS_TOKEN).</span>
        <label>
          <input type="checkbox" checked={showRevoked} onChange={(e) => setShowRevoked(e.target.checked)} />
          Show revoked tokens
        </label>
      </div>
      {created ? (
        <NewSecret created={created} onDone={() => setCreated(null)} />
      ) : (
        <CreateToken
          onCreated={(t) => {
            setNote(null);
            setCreated(t);
            tokens.reload();
          }}
        />
      )}
      {note && (
        <p role="status" className="note">
          {note}
        </p>
      )}
      {tokens.error && <p className="error">{tokens.error}</p>}
      {tokens.data && list.length === 0 && <p className="empty">No tokens.</p>}
      {list.length > 0 && (
        <table aria-label="Tokens">
          <thead>
            <tr>
              <th>Token</th>
              <th>Role</th>
              <th>Scopes</th>
              <th>Created</th>
              <th>Expires</th>
              <th>Last used</th>
              <th>
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {list.map((t) => (
              <tr key={`${t.name} ${t.createdAt}`} data-token={t.name}>
                <td className="subject">
                  {t.name}
                  {session.kind === 'token' && session.name === t.name && <span className="muted"> (this session)</span>}
                </td>
                <td>{t.role}</td>
                <td className="subject">{t.scopes.join(', ') || '—'}</td>
                <td>{formatTime(t.createdAt)}</td>
                <td>{t.expiresAt ? formatTime(t.expiresAt) : 'never'}</td>
                <td>{formatTime(t.lastUsedAt)}</td>
                <td className="actions">
                  {t.revokedAt ? (
                    <span className="badge cancelled">revoked {formatTime(t.revokedAt)}</span>
                  ) : (
                    <button type="button" className="secondary" onClick={() => setRevoking(t)} aria-label={`Revoke token ${t.name}`}>
                      Revoke
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {revoking && (
        <ConfirmDialog
          title={`Revoke token ${revoking.name}?`}
          confirmLabel={`Revoke ${revoking.name}`}
          onClose={() => setRevoking(null)}
          onConfirm={async () => {
            await call(api.revokeToken, { params: { name: revoking.name } });
            setNote(`Token ${revoking.name} revoked.`);
            tokens.reload();
          }}
        >
          <p>
            Every script or command line that uses {revoking.name} ({revoking.role}) is refused from now on. A revoked token cannot be brought back: create a
            new one and give it to whoever needs it.
          </p>
        </ConfirmDialog>
      )}
    </section>
  );
}

function CreateToken({ onCreated }: { onCreated: (t: TokenCreated) => void }) {
  const [name, setName] = useState('');
  const [role, setRole] = useState<Role>('viewer');
  const [scopes, setScopes] = useState('');
  const [expires, setExpires] = useState<string>('30d');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const errorId = useId();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    setBusy(true);
    try {
      const t = await call(api.createToken, {
        body: { name: name.trim(), role, ...(role === 'recovery-operator' ? { scopes: scopeList(scopes) } : {}), ...(expires ? { expires } : {}) },
      });
      setName('');
      setScopes('');
      onCreated(t);
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="panel form" onSubmit={(e) => void submit(e)} aria-labelledby="create-token-title">
      <h2 id="create-token-title">Create a token</h2>
      <div className="fields">
        <label>
          Token name
          <input value={name} onChange={(e) => setName(e.target.value)} required maxLength={100} pattern="[A-Za-z0-9][A-Za-z0-9 ._@\-]*" autoComplete="off" />
        </label>
        <RoleFields role={role} scopes={scopes} onRole={setRole} onScopes={setScopes} />
        <label>
          Expires after
          <select value={expires} onChange={(e) => setExpires(e.target.value)}>
            {TOKEN_EXPIRIES.map(([v, label]) => (
              <option key={v} value={v}>
                {label}
              </option>
            ))}
          </select>
        </label>
      </div>
      <p className="muted">
        {role}: {ROLE_MEANS[role]}.
      </p>
      <div className="bar">
        <button type="submit" disabled={busy} aria-describedby={error ? errorId : undefined}>
          Create token
        </button>
        {error && (
          <span id={errorId} role="alert" className="error">
            {error}
          </span>
        )}
      </div>
    </form>
  );
}

function NewSecret({ created, onDone }: { created: TokenCreated; onDone: () => void }) {
  const [code, setCode] = useState<HTMLElement | null>(null);
  return (
    <section className="panel secret-panel" aria-labelledby="new-token-title">
      <h2 id="new-token-title">Token {created.name} created</h2>
      <p className="warning-text" role="alert">
        Copy the secret now: it is shown only once. The server keeps only its hash, so it cannot be shown again.
      </p>
      <dl className="facts">
        <dt>Secret</dt>
        <dd>
          <code className="secret" ref={setCode} data-token-secret>
            {created.token}
          </code>
        </dd>
        <dt>Role</dt>
        <dd>
          {created.role}
          {created.scopes.length > 0 ? ` (${created.scopes.join(', ')})` : ''}
        </dd>
        <dt>Expires</dt>
        <dd>{created.expiresAt ? formatTime(created.expiresAt) : 'never'}</dd>
      </dl>
      <p className="muted">
        Use it as <code>CUSTOS_TOKEN</code> (with <code>CUSTOS_SERVER={location.origin}</code>) or in an <code>Authorization: Bearer</code> header.
      </p>
      <p className="bar">
        <CopyButton text={created.token} label="Copy the secret" select={() => code} />
        <button type="button" className="secondary" onClick={onDone}>
          Done, I have copied it
        </button>
      </p>
    </section>
  );
}

// ---------------------------------------------------------------------------
// Audit log

const PAGE = 100;
/** The actions the audit log names: every call that changes something, and what the server records on its own. */
const AUDIT_ACTIONS = [
  ...new Set([
    ...Object.values(api).flatMap((r) => ('audit' in r && r.audit ? [r.audit] : [])),
    'request',
    'session.lockout',
    'my.recover',
    'catalog.restore',
    'catalog.resync',
  ]),
].sort();

export function Audit() {
  const [action, setAction] = useState('');
  const [rows, setRows] = useState<AuditEntry[]>([]);
  const [done, setDone] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [tick, setTick] = useState(0);
  const filter = action.trim();
  const seq = useRef(0);

  const load = async (before: number | undefined, replace: boolean) => {
    const mine = ++seq.current;
    setBusy(true);
    try {
      const page = await call(api.listAudit, { query: { limit: PAGE, ...(before ? { before } : {}), ...(filter ? { action: filter } : {}) } });
      if (mine !== seq.current) return; // an answer for another filter, arriving late
      setRows((r) => (replace ? page : [...r, ...page]));
      setDone(page.length < PAGE);
      setError(null);
    } catch (e) {
      if (mine === seq.current) setError(messageOf(e));
    } finally {
      if (mine === seq.current) setBusy(false);
    }
  };
  useEffect(() => {
    void load(undefined, true);
  }, [filter, tick]);

  return (
    <section aria-labelledby="audit-title">
      <div className="bar">
        <h1 id="audit-title">Audit log</h1>
        <label>
          Action
          <input type="search" list="audit-actions" value={action} onChange={(e) => setAction(e.target.value)} placeholder="any" maxLength={64} />
          <datalist id="audit-actions">
            {AUDIT_ACTIONS.map((a) => (
              <option key={a} value={a} />
            ))}
          </datalist>
        </label>
        <button type="button" className="secondary" onClick={() => setTick((t) => t + 1)}>
          Newest
        </button>
      </div>
      {error && <p className="error">{error}</p>}
      {!error && rows.length === 0 && !busy && <p className="empty">No entries{filter ? ` for ${filter}` : ''}.</p>}
      {rows.length > 0 && (
        <table aria-label="Audit log" className="audit">
          <thead>
            <tr>
              <th>Time</th>
              <th>Actor</th>
              <th>Role</th>
              <th>Action</th>
              <th>Target</th>
              <th>Outcome</th>
              <th>Detail</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((a) => (
              <tr key={a.id} data-audit={a.action} data-outcome={a.outcome} className={a.outcome === 'ok' ? undefined : `outcome-${a.outcome}`}>
                <td>{formatTime(a.time, true)}</td>
                <td>
                  {a.actor}
                  {a.address && <small className="muted"> {a.address}</small>}
                </td>
                <td>{a.role ?? '—'}</td>
                <td>{a.action}</td>
                <td className="subject">{a.target ?? '—'}</td>
                <td>
                  <span className={`badge ${a.outcome === 'ok' ? 'succeeded' : a.outcome === 'denied' ? 'cancelled' : 'failed'}`}>{a.outcome}</span>
                </td>
                <td className="detail">{a.detail}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {rows.length > 0 && !done && (
        <p>
          <button type="button" className="secondary" disabled={busy} onClick={() => void load(rows.at(-1)!.id, false)}>
            Older
          </button>
        </p>
      )}
    </section>
  );
}
