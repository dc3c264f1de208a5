// Small shared pieces: error and status lines, the store selector, data loading.
import type {ComponentChildren} from 'preact';
import {useCallback, useEffect, useState} from 'preact/hooks';

import {api, errorText} from './api';

export function ErrorLine({error}: {error: unknown}) {
  if (!error) return null;
  return <p class="error" role="alert">{errorText(error)}</p>;
}

export function Notice({children}: {children: ComponentChildren}) {
  return <p class="notice" role="status">{children}</p>;
}

// Loads `load()` now, again when `deps` change and whenever `reload()` is called.
export function useData<T>(load: () => Promise<T>, deps: unknown[]) {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(true);
  const [generation, setGeneration] = useState(0);
  useEffect(() => {
    let live = true;
    setLoading(true);
    load().then(
        (value) => {
          if (!live) return;
          setData(value);
          setError(null);
          setLoading(false);
        },
        (failure) => {
          if (!live) return;
          setError(failure);
          setLoading(false);
        });
    return () => {
      live = false;
    };
  }, [...deps, generation]);
  const reload = useCallback(() => setGeneration((g) => g + 1), []);
  return {data, error, loading, reload};
}

export interface StoreSummary {
  store: string;
  items: number;
  out_of_stock: number;
  low?: number;
  last_updated?: string | null;
  last_upload?: string | null;
}

export function useStores() {
  return useData(() => api<{stores: StoreSummary[]}>('GET', '/stores').then((r) => r.stores), []);
}

export function StoreSelect({value, onChange, id, stores, allLabel = 'All stores'}: {
  value: string;
  onChange: (store: string) => void;
  id: string;
  stores: StoreSummary[] | null;
  allLabel?: string;
}) {
  return (
    <select id={id} value={value} onChange={(e) => onChange((e.target as HTMLSelectElement).value)}>
      <option value="">{allLabel}</option>
      {(stores ?? []).map((s) => <option key={s.store} value={s.store}>{s.store}</option>)}
    </select>
  );
}
