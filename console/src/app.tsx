/** The console's frame: sign-in, then the task areas with their navigation. */
import { useCallback, useEffect, useState } from 'react';
import { api, roleAllows, type Access } from '../../src/protocol/rest/contract.js';
import type { Session } from '../../src/protocol/rest/objects.js';
import { ApiError, call, setCsrf, whenSignedOut } from './api.js';
import { startLive, stopLive } from './live.js';
import { href, useRoute } from './route.js';
import { SignIn } from './pages/sign-in.js';
import { Monitoring } from './pages/monitoring.js';
import { Protection } from './pages/protection.js';
import { Recovery } from './pages/recovery.js';
import { Management } from './pages/management.js';
import { Reporting } from './pages/reporting.js';
import { MyFiles } from './pages/my-files.js';

/** `access`: shown only to roles that hold it; `linked`: only to a user linked to an account on a protected computer. */
type Area = { readonly id: string; readonly label: string; readonly access: Access; readonly linked?: true };
const AREAS: readonly Area[] = [
  { id: 'monitoring', label: 'Monitoring', access: 'view-sources' },
  { id: 'protection', label: 'Protection', access: 'view-sources' },
  { id: 'recovery', label: 'Recovery', access: 'recover' },
  { id: 'reporting', label: 'Reporting', access: 'view' },
  { id: 'management', label: 'Management', access: 'view' },
  { id: 'my', label: 'My files', access: 'my', linked: true },
];

export function App() {
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const route = useRoute();

  const signedOut = useCallback(() => {
    stopLive();
    setCsrf('');
    setSession(null);
  }, []);

  useEffect(() => {
    whenSignedOut(signedOut);
    call(api.session).then(
      (s) => signIn(s),
      (e: unknown) => {
        if (!(e instanceof ApiError && e.status === 401)) console.error(e);
        setSession(null);
      },
    );
  }, [signedOut]);

  const signIn = (s: Session) => {
    if (s.csrf) setCsrf(s.csrf);
    startLive();
    setSession(s);
  };

  if (session === undefined) return <p className="loading">Loading…</p>;
  if (session === null) return <SignIn onSignedIn={signIn} />;

  const areas = AREAS.filter((a) => roleAllows(session.role, a.access) && (!a.linked || session.link !== undefined));
  const area = areas.find((a) => a.id === route[0]) ?? areas[0];
  const signOut = async () => {
    try {
      await call(api.signOut);
    } finally {
      signedOut();
    }
  };
  return (
    <div className="frame">
      <header className="top">
        <span className="brand">Custos</span>
        <nav aria-label="Task areas">
          {areas.map((a) => (
            <a key={a.id} href={href(a.id)} aria-current={a.id === area?.id ? 'page' : undefined}>
              {a.label}
            </a>
          ))}
        </nav>
        <span className="who">
          {session.name} <span className="role">({session.role})</span>
        </span>
        {session.kind === 'user' && (
          <button type="button" onClick={() => void signOut()}>
            Sign out
          </button>
        )}
      </header>
      <main>
        {!area && <p className="empty">Your user may use no area of this console: ask an administrator.</p>}
        {area?.id === 'monitoring' && <Monitoring route={route.slice(1)} session={session} />}
        {area?.id === 'protection' && <Protection route={route.slice(1)} session={session} />}
        {area?.id === 'recovery' && <Recovery route={route.slice(1)} session={session} />}
        {area?.id === 'reporting' && <Reporting route={route.slice(1)} session={session} />}
        {area?.id === 'management' && <Management route={route.slice(1)} session={session} />}
        {area?.id === 'my' && <MyFiles route={route.slice(1)} session={session} />}
      </main>
    </div>
  );
}
