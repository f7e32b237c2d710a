/**
 * Pieces the Management area's tabs share: a confirmation dialog (an in-page
 * modal <dialog>, never window.confirm), a copy button, the role and scopes
 * fields of users and tokens, and a job's state as a line of text.
 */
import { useEffect, useId, useRef, useState, type ReactNode } from 'react';
import { ROLES, type Job, type Role } from '../../../src/protocol/rest/objects.js';
import { formatDuration } from '../format.js';
import { href } from '../route.js';

export const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/**
 * A modal dialog: focus stays inside, Escape or Cancel closes it. `onConfirm`
 * runs the change; its error is shown beside the button and the dialog
 * stays open, so the person can read it and cancel.
 */
export function ConfirmDialog(props: {
  readonly title: string;
  readonly children: ReactNode;
  readonly confirmLabel: string;
  readonly onConfirm: () => Promise<void>;
  readonly onClose: () => void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  const errorId = useId();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const cancel = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal();
    cancel.current?.focus(); // the safe choice has the focus: Enter does not remove anything
    return () => d?.close();
  }, []);
  const confirm = async () => {
    setBusy(true);
    setError(null);
    try {
      await props.onConfirm();
      props.onClose();
    } catch (e) {
      setError(messageOf(e));
      setBusy(false);
    }
  };
  return (
    <dialog
      ref={ref}
      className="confirm"
      aria-modal="true"
      aria-labelledby={titleId}
      onCancel={(e) => {
        e.preventDefault();
        props.onClose();
      }}
    >
      <h2 id={titleId}>{props.title}</h2>
      <div className="what-happens">{props.children}</div>
      <div className="dialog-buttons">
        <button type="button" className="danger" onClick={() => void confirm()} disabled={busy} aria-describedby={error ? errorId : undefined}>
          {props.confirmLabel}
        </button>
        <button type="button" className="secondary" onClick={props.onClose} ref={cancel}>
          Cancel
        </button>
      </div>
      {error && (
        <p id={errorId} role="alert" className="error">
          {error}
        </p>
      )}
    </dialog>
  );
}

/** Copies `text`; where the clipboard is not allowed, selects `select` so Ctrl+C copies it. */
export function CopyButton({ text, label, select }: { text: string; label: string; select?: () => HTMLElement | null }) {
  const [said, setSaid] = useState('');
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setSaid('Copied.');
    } catch {
      const el = select?.();
      if (el) {
        const range = document.createRange();
        range.selectNodeContents(el);
        getSelection()?.removeAllRanges();
        getSelection()?.addRange(range);
      }
      setSaid('The browser did not allow copying: the text is selected, press Ctrl+C.');
    }
  };
  return (
    <span className="copy">
      <button type="button" className="secondary" onClick={() => void copy()}>
        {label}
      </button>
      <span role="status" className="muted">
        {said}
      </span>
    </span>
  );
}

/**
 * A role select and, for a recovery-operator, its scopes (one a line); for
 * a console user (`onLink` given), the account it is linked to (My files),
 * which an end-user must have. Tokens cannot be end-users.
 */
export function RoleFields(props: {
  readonly role: Role;
  readonly scopes: string;
  readonly onRole: (r: Role) => void;
  readonly onScopes: (s: string) => void;
  readonly roleLabel?: string;
  readonly link?: string;
  readonly onLink?: (s: string) => void;
}) {
  const hint = useId();
  const linkHint = useId();
  const onLink = props.onLink;
  return (
    <>
      <label>
        {props.roleLabel ?? 'Role'}
        <select value={props.role} onChange={(e) => props.onRole(e.target.value as Role)}>
          {ROLES.filter((r) => onLink || r !== 'end-user').map((r) => (
            <option key={r} value={r}>
              {r}
            </option>
          ))}
        </select>
      </label>
      {props.role === 'recovery-operator' && (
        <label className="scopes">
          Scopes
          <textarea value={props.scopes} onChange={(e) => props.onScopes(e.target.value)} rows={2} aria-describedby={hint} placeholder="group:office" />
          <small id={hint}>One a line: group:NAME or source:ID — what this recovery-operator may see and recover; target:AGENT:/dir or target:AGENT:postgres:PORT (or :*) — where it may recover to (without one: agents of its data sources).</small>
        </label>
      )}
      {onLink && (
        <label>
          Linked account
          <input value={props.link ?? ''} onChange={(e) => onLink(e.target.value)} placeholder="AGENT:ACCOUNT" maxLength={100} aria-describedby={linkHint} required={props.role === 'end-user'} autoComplete="off" />
          <small id={linkHint}>My files: the account on a protected computer whose files this user sees{props.role === 'end-user' ? ' (an end-user needs one)' : ' (optional)'}.</small>
        </label>
      )}
    </>
  );
}

export const ROLE_MEANS: Record<Role, string> = {
  admin: 'everything, including users, tokens, agents and the audit log',
  operator: 'sees everything, runs jobs, recovers; changes no configuration',
  viewer: 'sees configuration, state and jobs; changes nothing',
  'recovery-operator': 'browses and recovers the data sources of its scopes only',
  'end-user': 'My files only: what the linked account could read on its computer',
};

/** AGENT:ACCOUNT typed in a field, as the API takes a link; null when empty, an error text when it is not one. */
export function linkOf(text: string): { agent: string; account: string } | null | string {
  const t = text.trim();
  if (t === '') return null;
  const at = t.lastIndexOf(':');
  if (at <= 0 || at === t.length - 1) return 'Give the linked account as AGENT:ACCOUNT, e.g. pc1:alice.';
  return { agent: t.slice(0, at), account: t.slice(at + 1) };
}

/** The scopes typed in a textarea: one a line, blank lines left out. */
export const scopeList = (text: string): string[] => text.split('\n').map((s) => s.trim()).filter(Boolean);

/** A job in a cell: its state, and how long it took or how far it is. */
export function JobState({ job }: { job: Job }) {
  const took = job.startedAt && job.finishedAt ? Date.parse(job.finishedAt) - Date.parse(job.startedAt) : null;
  return (
    <>
      <span className={`badge ${job.state}`}>{job.state}</span>
      {job.state === 'running' && <span className="muted">{job.progress.phase}</span>}
      {took !== null && <span className="muted">took {formatDuration(took)}</span>}
      {job.error && <span className="error"> {job.error}</span>}
    </>
  );
}

export function JobLink({ job }: { job: Job }) {
  return <a href={href('monitoring', 'jobs', String(job.id))}>{job.id}</a>;
}
