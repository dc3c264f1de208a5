// Account (every role): change one's own password, and one's personal API tokens for scripts
// (the token is shown once, at creation; the server keeps only its hash).
import {useState} from 'preact/hooks';

import {api, errorText, formatTime, type User} from '../api';
import {ErrorLine, useData} from '../ui';

interface Token {
  id: number;
  name: string;
  user: string | null;
  created_at: string;
}

function Password() {
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [again, setAgain] = useState('');
  const [status, setStatus] = useState<{ok: boolean; text: string} | null>(null);
  const change = async (event: Event) => {
    event.preventDefault();
    if (next !== again) {
      setStatus({ok: false, text: 'The new passwords differ.'});
      return;
    }
    setStatus(null);
    try {
      await api('POST', '/me/password', {current_password: current, new_password: next});
      setCurrent('');
      setNext('');
      setAgain('');
      setStatus({ok: true, text: 'Password changed. Your other sessions have ended.'});
    } catch (failure) {
      setStatus({ok: false, text: errorText(failure)});
    }
  };
  return (
    <section aria-labelledby="account-password">
      <h2 id="account-password">Password</h2>
      <form class="card" onSubmit={change} aria-label="Change password">
        <div class="grid">
          <label for="password-current">Current password</label>
          <input id="password-current" type="password" autocomplete="current-password" required
                 value={current} onInput={(e) => setCurrent((e.target as HTMLInputElement).value)} />
          <label for="password-new">New password (12 characters or more)</label>
          <input id="password-new" type="password" autocomplete="new-password" required minLength={12}
                 value={next} onInput={(e) => setNext((e.target as HTMLInputElement).value)} />
          <label for="password-again">New password again</label>
          <input id="password-again" type="password" autocomplete="new-password" required minLength={12}
                 value={again} onInput={(e) => setAgain((e.target as HTMLInputElement).value)} />
        </div>
        <button type="submit">Change password</button>
      </form>
      {status && <p class={status.ok ? 'notice' : 'error'} role={status.ok ? 'status' : 'alert'}>{status.text}</p>}
    </section>
  );
}

function Tokens({user}: {user: User}) {
  const tokens = useData(() => api<{tokens: Token[]}>('GET', '/tokens').then((r) => r.tokens), []);
  const [name, setName] = useState('');
  const [created, setCreated] = useState<{name: string; token: string} | null>(null);
  const [status, setStatus] = useState<string | null>(null);
  const create = async (event: Event) => {
    event.preventDefault();
    setStatus(null);
    setCreated(null);
    try {
      const answer = await api<Token & {token: string}>('POST', '/tokens', {name});
      setCreated({name: answer.name, token: answer.token});
      setName('');
      tokens.reload();
    } catch (failure) {
      setStatus(errorText(failure));
    }
  };
  const revoke = async (token: Token) => {
    setStatus(null);
    try {
      await api('DELETE', `/tokens/${token.id}`);
      setStatus(`Token ${token.name} revoked.`);
      tokens.reload();
    } catch (failure) {
      setStatus(errorText(failure));
    }
  };
  return (
    <section aria-labelledby="account-tokens">
      <h2 id="account-tokens">API tokens</h2>
      <p>
        A token lets a script use the API as you ({user.role}
        {user.stores ? `, ${user.stores.join(', ')}` : ''}): send it as
        <code> Authorization: Bearer &lt;token&gt;</code>.
      </p>
      <ErrorLine error={tokens.error} />
      <table class="data">
        <thead><tr><th scope="col">Name</th><th scope="col">Owner</th><th scope="col">Created</th>
          <th scope="col">Action</th></tr></thead>
        <tbody>
          {(tokens.data ?? []).map((t) => (
            <tr key={t.id} data-token={t.name}>
              <td>{t.name}</td>
              <td>{t.user ?? '(none)'}</td>
              <td>{formatTime(t.created_at)}</td>
              <td>
                <button type="button" onClick={() => revoke(t)}>
                  Revoke<span class="visually-hidden"> {t.name}</span>
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <form class="card" onSubmit={create} aria-label="Create a token">
        <div class="grid">
          <label for="token-name">Token name</label>
          <input id="token-name" required maxLength={128} value={name}
                 onInput={(e) => setName((e.target as HTMLInputElement).value)} />
        </div>
        <button type="submit">Create token</button>
      </form>
      {created && (
        <div class="notice" role="status">
          <p>Token {created.name} (shown once: copy it now):</p>
          <p><code data-testid="new-token">{created.token}</code></p>
        </div>
      )}
      {status && <p role="status">{status}</p>}
    </section>
  );
}

export function AccountPage({user}: {user: User}) {
  return (
    <section>
      <h1>Account</h1>
      <p>Signed in as {user.name}.</p>
      <Password />
      <Tokens user={user} />
    </section>
  );
}
