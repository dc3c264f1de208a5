// Admin (admins only; the server refuses the routes to anyone else too): users and roles,
// S3 access keys (the secret is shown once), thresholds, the settings in force (read only).
// The nav shows it where the server serves "admin" or "thresholds" (pageServed in main.tsx).
import {useState} from 'preact/hooks';

import {api, errorText, formatTime, hasFeature, type User} from '../api';
import {ErrorLine, useData} from '../ui';

interface UserRow extends User {
  disabled?: boolean;
  created_at?: string;
}

interface AccessKey {
  access_key_id: string;
  all_stores: boolean;
  stores: string[] | null;
  description: string;
  created_at: string;
  revoked_at: string | null;
}

interface Threshold {
  store: string | null;
  item: string | null;
  value: number;
}

function splitStores(text: string): string[] {
  return text.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

function Users() {
  const users = useData(() => api<{users: UserRow[]}>('GET', '/users').then((r) => r.users), []);
  const [name, setName] = useState('');
  const [role, setRole] = useState<User['role']>('viewer');
  const [stores, setStores] = useState('');
  const [password, setPassword] = useState('');
  const [status, setStatus] = useState<string | null>(null);
  const act = async (what: () => Promise<unknown>, done: string) => {
    setStatus(null);
    try {
      await what();
      setStatus(done);
      users.reload();
    } catch (failure) {
      setStatus(errorText(failure));
    }
  };
  const add = (event: Event) => {
    event.preventDefault();
    const body: Record<string, unknown> = {name, role, password};
    if (role === 'manager') body.stores = splitStores(stores);
    act(() => api('POST', '/users', body), `User ${name} added.`).then(() => setPassword(''));
  };
  return (
    <section aria-labelledby="admin-users">
      <h2 id="admin-users">Users and roles</h2>
      <ErrorLine error={users.error} />
      <table class="data">
        <thead><tr><th scope="col">Name</th><th scope="col">Role</th><th scope="col">Stores</th>
          <th scope="col">State</th><th scope="col">Action</th></tr></thead>
        <tbody>
          {(users.data ?? []).map((u) => (
            <tr key={u.name}>
              <td>{u.name}</td>
              <td>{u.role}</td>
              <td>{u.stores ? u.stores.join(', ') : 'all'}</td>
              <td>{u.disabled ? 'disabled' : 'active'}</td>
              <td>
                <button type="button" onClick={() => act(() => api('PATCH', `/users/${encodeURIComponent(u.name)}`, {disabled: !u.disabled}), `User ${u.name} ${u.disabled ? 'enabled' : 'disabled'}.`)}>
                  {u.disabled ? 'Enable' : 'Disable'}<span class="visually-hidden"> {u.name}</span>
                </button>{' '}
                <button type="button" onClick={() => act(() => api('DELETE', `/users/${encodeURIComponent(u.name)}`), `User ${u.name} deleted.`)}>
                  Delete<span class="visually-hidden"> {u.name}</span>
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <form class="card" onSubmit={add} aria-label="Add a user">
        <div class="grid">
          <label for="user-name">Name</label>
          <input id="user-name" required value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
          <label for="user-role">Role</label>
          <select id="user-role" value={role} onChange={(e) => setRole((e.target as HTMLSelectElement).value as User['role'])}>
            <option value="viewer">viewer</option>
            <option value="manager">manager</option>
            <option value="admin">admin</option>
          </select>
          <label for="user-stores">Stores (managers; comma-separated)</label>
          <input id="user-stores" value={stores} disabled={role !== 'manager'} onInput={(e) => setStores((e.target as HTMLInputElement).value)} />
          <label for="user-password">Password (12 characters or more)</label>
          <input id="user-password" type="password" autocomplete="new-password" required minLength={12} value={password}
                 onInput={(e) => setPassword((e.target as HTMLInputElement).value)} />
        </div>
        <button type="submit">Add user</button>
      </form>
      {status && <p role="status">{status}</p>}
    </section>
  );
}

function Keys() {
  const keys = useData(() => api<{keys: AccessKey[]}>('GET', '/keys').then((r) => r.keys), []);
  const [stores, setStores] = useState('');
  const [description, setDescription] = useState('');
  const [secret, setSecret] = useState<{id: string; secret: string} | null>(null);
  const [status, setStatus] = useState<string | null>(null);
  const create = async (event: Event) => {
    event.preventDefault();
    setStatus(null);
    setSecret(null);
    try {
      const list = splitStores(stores);
      const body: Record<string, unknown> = list.length ? {stores: list} : {all_stores: true};
      if (description) body.description = description;
      const created = await api<AccessKey & {secret_access_key: string}>('POST', '/keys', body);
      setSecret({id: created.access_key_id, secret: created.secret_access_key});
      keys.reload();
    } catch (failure) {
      setStatus(errorText(failure));
    }
  };
  const revoke = async (id: string) => {
    setStatus(null);
    try {
      await api('DELETE', `/keys/${encodeURIComponent(id)}`);
      setStatus(`Key ${id} revoked.`);
      keys.reload();
    } catch (failure) {
      setStatus(errorText(failure));
    }
  };
  return (
    <section aria-labelledby="admin-keys">
      <h2 id="admin-keys">S3 access keys</h2>
      <ErrorLine error={keys.error} />
      <table class="data">
        <thead><tr><th scope="col">Access key ID</th><th scope="col">Stores</th><th scope="col">Description</th>
          <th scope="col">Created</th><th scope="col">Revoked</th><th scope="col">Action</th></tr></thead>
        <tbody>
          {(keys.data ?? []).map((k) => (
            <tr key={k.access_key_id}>
              <td><code>{k.access_key_id}</code></td>
              <td>{k.all_stores ? 'all' : (k.stores ?? []).join(', ')}</td>
              <td>{k.description}</td>
              <td>{formatTime(k.created_at)}</td>
              <td>{formatTime(k.revoked_at)}</td>
              <td>{!k.revoked_at && <button type="button" onClick={() => revoke(k.access_key_id)}>Revoke<span class="visually-hidden"> {k.access_key_id}</span></button>}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <form class="card" onSubmit={create} aria-label="Create an access key">
        <div class="grid">
          <label for="key-stores">Stores (comma-separated; empty for all stores)</label>
          <input id="key-stores" value={stores} onInput={(e) => setStores((e.target as HTMLInputElement).value)} />
          <label for="key-description">Description</label>
          <input id="key-description" value={description} onInput={(e) => setDescription((e.target as HTMLInputElement).value)} />
        </div>
        <button type="submit">Create key</button>
      </form>
      {secret && (
        <div class="secret" role="status">
          <p>Secret access key for <code>{secret.id}</code>, shown only now: copy it.</p>
          <code>{secret.secret}</code>
        </div>
      )}
      {status && <p role="status">{status}</p>}
    </section>
  );
}

function Thresholds() {
  const list = useData(() => api<{thresholds: Threshold[]}>('GET', '/thresholds').then((r) => r.thresholds), []);
  const [store, setStore] = useState('');
  const [item, setItem] = useState('');
  const [value, setValue] = useState('');
  const [status, setStatus] = useState<string | null>(null);
  const put = async (body: {store: string | null; item: string | null; value: number | null}) => {
    setStatus(null);
    try {
      await api('PUT', '/thresholds', body);
      setStatus(body.value === null ? 'Threshold removed.' : 'Threshold saved.');
      list.reload();
    } catch (failure) {
      setStatus(errorText(failure));
    }
  };
  return (
    <section aria-labelledby="admin-thresholds">
      <h2 id="admin-thresholds">Thresholds</h2>
      <ErrorLine error={list.error} />
      <table class="data">
        <thead><tr><th scope="col">Store</th><th scope="col">Item</th><th scope="col" class="num">Value</th><th scope="col">Action</th></tr></thead>
        <tbody>
          {(list.data ?? []).map((t, i) => (
            <tr key={i}>
              <td>{t.store ?? 'any'}</td><td>{t.item ?? 'any'}</td><td class="num">{t.value}</td>
              <td><button type="button" onClick={() => put({store: t.store, item: t.item, value: null})}>Remove</button></td>
            </tr>
          ))}
        </tbody>
      </table>
      <form class="card" aria-label="Set a threshold" onSubmit={(e) => {
        e.preventDefault();
        put({store: store.trim() || null, item: item.trim() || null, value: Number(value)});
      }}>
        <div class="grid">
          <label for="th-store">Store (empty: any)</label>
          <input id="th-store" value={store} onInput={(e) => setStore((e.target as HTMLInputElement).value)} />
          <label for="th-item">Item (empty: any)</label>
          <input id="th-item" value={item} onInput={(e) => setItem((e.target as HTMLInputElement).value)} />
          <label for="th-value">Low below or at</label>
          <input id="th-value" inputMode="numeric" required pattern="[0-9]+" value={value} onInput={(e) => setValue((e.target as HTMLInputElement).value)} />
        </div>
        <button type="submit">Save threshold</button>
      </form>
      {status && <p role="status">{status}</p>}
    </section>
  );
}

interface Setting {
  name: string;
  type: 'string' | 'int' | 'bool';
  value: string;
  default: string;
  source: 'default' | 'file' | 'env' | 'flag';
  env: string;
  secret: boolean;
}

// Read only: settings come from the file, the environment and flags at start.
function Settings() {
  const list = useData(() => api<{settings: Setting[]}>('GET', '/settings').then((r) => r.settings), []);
  return (
    <section aria-labelledby="admin-settings">
      <h2 id="admin-settings">Settings</h2>
      <p>The settings in force (from the defaults, the configuration file, the environment and
        flags at start; change them there and restart). Secrets are never shown.</p>
      <ErrorLine error={list.error} />
      <div class="table-wrap" tabIndex={0} role="region" aria-label="Settings">
        <table class="data" aria-labelledby="admin-settings">
          <thead><tr><th scope="col">Setting</th><th scope="col">Value</th><th scope="col">Default</th>
            <th scope="col">From</th><th scope="col">Environment variable</th></tr></thead>
          <tbody>
            {(list.data ?? []).map((s) => (
              <tr key={s.name} data-setting={s.name}>
                <td><code>{s.name}</code></td>
                <td class={s.source === 'default' ? '' : 'changed'}>{s.secret ? (s.value ? 'set (hidden)' : 'not set') : s.value}</td>
                <td>{s.default}</td>
                <td>{s.source}</td>
                <td><code>{s.env}</code></td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

// A server that lists "thresholds" but not "admin" among its features (the api Lambda
// function) has no users, keys or settings of its own: only the thresholds show.
export function AdminPage(_: {user: User}) {
  const full = hasFeature('admin');
  return (
    <section aria-labelledby="admin-title">
      <h1 id="admin-title">Admin</h1>
      {full && <Users />}
      {full && <Keys />}
      {hasFeature('thresholds') && <Thresholds />}
      {full && <Settings />}
    </section>
  );
}
