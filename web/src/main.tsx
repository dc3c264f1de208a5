// The dashboard: login, then a header (user, role, logout), navigation and one page, chosen by
// the URL's fragment (`#/inventory`). Every name is rendered as text: Preact escapes it.
import 'uplot/dist/uPlot.min.css';
import './style.css';

import {render} from 'preact';
import {useEffect, useState} from 'preact/hooks';

import {api, ApiError, dropPrefetched, errorText, hasFeature, prefetch, setCsrfToken, setFeatures,
        setUnauthenticatedHandler, type User} from './api';
import {startLive, stopLive} from './live';
import {AccountPage} from './pages/account';
import {AdminPage} from './pages/admin';
import {AlertsPage} from './pages/alerts';
import {InventoryPage, kFirstInventoryPath} from './pages/inventory';
import {ItemPage} from './pages/item';
import {OverviewPage} from './pages/overview';
import {SubscriptionsPage} from './pages/subscriptions';
import {UploadsPage} from './pages/uploads';
import {href, ssoErrorText, useRoute} from './route';

interface Session {
  user: User;
  csrf_token: string | null;
  // The pages this server serves; absent: all of them (see api.ts, setFeatures).
  features?: string[];
}

interface SsoConfig {
  enabled: boolean;
  login_url: string;
  // false: the server has no password sign-in (the api Lambda function). Absent: it has.
  password_login?: boolean;
}

function Login({onLogin}: {onLogin: (session: Session) => void}) {
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  // A failed sign-in with SSO comes back as #/login?error=<code>.
  const [error, setError] = useState<string | null>(ssoErrorText(location.hash));
  const [busy, setBusy] = useState(false);
  // Single sign-on (OpenID Connect), when the server has it configured; the password form
  // unless the server says it has no password sign-in.
  const [sso, setSso] = useState<string | null>(null);
  const [passwords, setPasswords] = useState(true);
  useEffect(() => {
    api<SsoConfig>('GET', '/oidc/config')
        .then((config) => {
          setSso(config.enabled ? config.login_url : null);
          setPasswords(config.password_login !== false);
        })
        .catch(() => setSso(null));
  }, []);
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onLogin(await api<Session>('POST', '/login', {name, password}));
    } catch (failure) {
      if (failure instanceof ApiError && failure.status === 429) {
        setError(`Too many attempts; try again in ${failure.retryAfter ?? 'a few'} seconds.`);
      } else {
        setError(errorText(failure));
      }
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="login">
      <h1>stockwatch</h1>
      {passwords && <form onSubmit={submit} aria-label="Sign in">
        <label for="login-name">User name</label>
        <input id="login-name" name="username" autocomplete="username" required value={name}
               onInput={(e) => setName((e.target as HTMLInputElement).value)} />
        <label for="login-password">Password</label>
        <input id="login-password" name="password" type="password" autocomplete="current-password"
               required value={password}
               onInput={(e) => setPassword((e.target as HTMLInputElement).value)} />
        <button type="submit" disabled={busy}>Sign in</button>
        {error && <p class="error" role="alert">{error}</p>}
      </form>}
      {!passwords && error && <p class="error" role="alert">{error}</p>}
      {sso && <p class="sso"><a class="button" href={sso}>Sign in with SSO</a></p>}
      {!passwords && !sso && <p role="status">Sign-in is not configured on this server.</p>}
    </main>
  );
}

// Whether the server serves `page`: its feature, or for the admin page the thresholds alone.
function pageServed(page: string): boolean {
  return hasFeature(page) || (page === 'admin' && hasFeature('thresholds'));
}

// Every page; a server may serve only some (pageServed).
const kPages: {path: string; title: string; admin?: boolean}[] = [
  {path: 'overview', title: 'Overview'},
  {path: 'inventory', title: 'Inventory'},
  {path: 'uploads', title: 'Uploads'},
  {path: 'alerts', title: 'Alerts'},
  {path: 'subscriptions', title: 'Subscriptions'},
  {path: 'account', title: 'Account'},
  {path: 'admin', title: 'Admin', admin: true},
];

function Shell({user, onLogout}: {user: User; onLogout: () => void}) {
  const route = useRoute();
  const page = route[0] || 'inventory';
  const isAdmin = user.role === 'admin';
  useEffect(() => {
    const title = page === 'item' ? `${route[2] ?? ''} at ${route[1] ?? ''}` :
                                    kPages.find((p) => p.path === page)?.title ?? 'Not found';
    document.title = `${title} · stockwatch`;
  }, [route.join('/')]);
  let content;
  const known = page === 'item' || kPages.some((p) => p.path === page);
  if (known && !pageServed(page)) {
    content = <section><h1>Not available</h1><p>This deployment does not serve the page {page}.</p></section>;
  } else switch (page) {
    case 'overview': content = <OverviewPage />; break;
    case 'inventory':
      content = <InventoryPage key={route[1] ?? ''} user={user} initialStore={route[1] ?? ''} />;
      break;
    case 'item': content = <ItemPage user={user} store={route[1] ?? ''} item={route[2] ?? ''} />; break;
    case 'uploads': content = <UploadsPage user={user} />; break;
    case 'alerts': content = <AlertsPage user={user} />; break;
    case 'subscriptions': content = <SubscriptionsPage user={user} />; break;
    case 'account': content = <AccountPage user={user} />; break;
    case 'admin':
      content = isAdmin ? <AdminPage user={user} /> :
                          <section><h1>Admin</h1><p class="error" role="alert">Only an admin may see this page.</p></section>;
      break;
    default: content = <section><h1>Not found</h1><p>No page {page}.</p></section>;
  }
  return (
    <>
      <a class="skip" href="#content" onClick={(e) => {
        e.preventDefault();
        document.getElementById('content')?.focus();
      }}>Skip to content</a>
      <header class="top">
        <span class="brand">stockwatch</span>
        <nav aria-label="Main">
          <ul>
            {kPages.filter((p) => (!p.admin || isAdmin) && pageServed(p.path)).map((p) => (
              <li key={p.path}>
                <a href={href(p.path)} aria-current={page === p.path ? 'page' : undefined}>{p.title}</a>
              </li>
            ))}
          </ul>
        </nav>
        <div class="who">
          <span data-testid="user-name">{user.name}</span>{' '}
          <span class={`role role-${user.role}`} data-testid="user-role">{user.role}</span>
          {user.stores && <span class="scope"> ({user.stores.join(', ')})</span>}
          <button type="button" onClick={onLogout}>Log out</button>
        </div>
      </header>
      <main id="content" tabIndex={-1}>{content}</main>
    </>
  );
}

function App() {
  const [user, setUser] = useState<User | null>(null);
  const [checked, setChecked] = useState(false);
  const signedOut = () => {
    stopLive();
    setCsrfToken(null);
    setFeatures(null);
    setUser(null);
  };
  useEffect(() => {
    setUnauthenticatedHandler(signedOut);
    api<Session>('GET', '/me')
        .then((session) => {
          setCsrfToken(session.csrf_token);
          setFeatures(session.features);
          setUser(session.user);
        })
        .catch(() => setUser(null))
        .finally(() => setChecked(true));
  }, []);
  useEffect(() => {
    if (user && hasFeature('events')) startLive();
  }, [user]);
  if (!checked) return <main aria-busy="true"><p>Loading…</p></main>;
  if (!user) {
    return <Login onLogin={(session) => {
      dropPrefetched();
      setCsrfToken(session.csrf_token);
      setFeatures(session.features);
      setUser(session.user);
      if (!location.hash || location.hash.startsWith('#/login')) location.hash = '#/inventory';
    }} />;
  }
  const logout = async () => {
    try {
      await api('POST', '/logout');
    } finally {
      signedOut();
    }
  };
  return <Shell user={user} onLogout={logout} />;
}

// The inventory page (the default) needs the stores and its first page: ask for them while
// the session is checked. Signed out, they fail with 401 and are never used.
if (['', '#', '#/', '#/inventory'].includes(location.hash)) {
  prefetch('/stores');
  prefetch(kFirstInventoryPath);
}
render(<App />, document.getElementById('app')!);
