/** The sign-in page: a user name and a password (local users: `custos user add`). */
import { useState, type FormEvent } from 'react';
import { api } from '../../../src/protocol/rest/contract.js';
import type { Session } from '../../../src/protocol/rest/objects.js';
import { call } from '../api.js';

export function SignIn({ onSignedIn }: { onSignedIn: (s: Session) => void }) {
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const s = await call(api.signIn, { body: { name, password } });
      setPassword('');
      onSignedIn({ ...s, kind: 'user' });
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className="sign-in">
      <form onSubmit={(e) => void submit(e)} aria-labelledby="sign-in-title">
        <h1 id="sign-in-title">Sign in to Custos</h1>
        <label>
          User name
          <input name="username" autoComplete="username" value={name} onChange={(e) => setName(e.target.value)} required maxLength={63} autoFocus />
        </label>
        <label>
          Password
          <input name="password" type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} required maxLength={1024} />
        </label>
        {error && (
          <p role="alert" className="error">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
        <p className="hint">
          Users are made on the protection server with <code>custos user add NAME --role admin</code>.
        </p>
      </form>
    </main>
  );
}
