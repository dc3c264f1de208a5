// Inventory: store selector, search, filters, sortable columns, server-side paging, CSV export.
import {useEffect, useState} from 'preact/hooks';

import {api, formatTime, hasFeature, query, type User} from '../api';
import {download, toCsv} from '../csv';
import {useLive} from '../live';
import {href} from '../route';
import {ErrorLine, StoreSelect, useData, useStores} from '../ui';

export interface InventoryItem {
  store: string;
  item: string;
  count: number;
  updated_at: string;
  threshold?: number | null;
}

interface InventoryPage {
  items: InventoryItem[];
  next_cursor: string | null;
  total?: number;
  total_capped?: boolean;
}

type SortKey = 'store' | 'item' | 'count' | 'updated_at';
const kPageSize = 50;
const kExportPage = 10000;
const kExportMax = 1_000_000;

export function stockLevel(item: {count: number; threshold?: number | null}): 'out' | 'low' | 'ok' {
  if (item.count === 0) return 'out';
  if (item.threshold !== null && item.threshold !== undefined && item.count <= item.threshold) return 'low';
  return 'ok';
}

export function CountCell({item}: {item: {count: number; threshold?: number | null}}) {
  const level = stockLevel(item);
  return (
    <td class={`num count-${level}`}>
      {item.count}
      {level === 'out' && <span class="badge badge-out">out of stock</span>}
      {level === 'low' && <span class="badge badge-low">low</span>}
    </td>
  );
}

// What the page asks for first (no filter, first page): main.tsx prefetches it.
export function inventoryPath(filters: Record<string, string>, cursor: string): string {
  return `/inventory${query({...filters, limit: kPageSize, cursor})}`;
}
export const kFirstInventoryPath = inventoryPath(
    {store: '', q: '', status: '', changed_since: '', sort: 'store', order: 'asc'}, '');

// `initialStore`: from the URL (`#/inventory/Berlin`), e.g. a link of the Overview page.
export function InventoryPage({initialStore = ''}: {user: User; initialStore?: string}) {
  const stores = useStores();
  const [store, setStore] = useState(initialStore);
  const [search, setSearch] = useState('');
  // The query follows the search box 250 ms after the last keystroke, not at every key.
  const [q, setQ] = useState('');
  useEffect(() => {
    const timer = setTimeout(() => setQ(search.trim()), 250);
    return () => clearTimeout(timer);
  }, [search]);
  const [status, setStatus] = useState('');
  const [changedSince, setChangedSince] = useState('');
  const [sort, setSort] = useState<SortKey>('store');
  const [order, setOrder] = useState<'asc' | 'desc'>('asc');
  // Cursors of the pages before the current one, and the current one's.
  const [cursors, setCursors] = useState<string[]>([]);
  const [exporting, setExporting] = useState<string | null>(null);
  const [exportError, setExportError] = useState<unknown>(null);

  const filters = {
    store,
    q,
    status,
    changed_since: changedSince ? new Date(changedSince).toISOString() : '',
    sort,
    order,
  };
  const cursor = cursors.length ? cursors[cursors.length - 1] : '';
  const page = useData(
      () => api<InventoryPage>('GET', inventoryPath(filters, cursor)),
      [JSON.stringify(filters), cursor]);
  useLive(['change', 'upload'], () => {
    page.reload();
    stores.reload();
  });

  const resetPaging = () => setCursors([]);
  const sortBy = (key: SortKey) => {
    if (key === sort) {
      setOrder(order === 'asc' ? 'desc' : 'asc');
    } else {
      setSort(key);
      setOrder('asc');
    }
    resetPaging();
  };
  const header = (key: SortKey, label: string, numeric = false) => (
    <th scope="col" class={numeric ? 'num' : undefined}
        aria-sort={sort === key ? (order === 'asc' ? 'ascending' : 'descending') : 'none'}>
      <button type="button" class="sort" onClick={() => sortBy(key)}>
        {label}<span aria-hidden="true">{sort === key ? (order === 'asc' ? ' ▲' : ' ▼') : ''}</span>
      </button>
    </th>
  );

  const exportCsv = async () => {
    setExportError(null);
    const rows: (string | number | null)[][] = [];
    let next = '';
    try {
      do {
        setExporting(`Exporting… ${rows.length} rows`);
        const chunk = await api<InventoryPage>(
            'GET', `/inventory${query({...filters, limit: kExportPage, cursor: next})}`);
        for (const item of chunk.items) {
          rows.push([item.store, item.item, item.count, item.threshold ?? null, item.updated_at]);
        }
        next = chunk.next_cursor ?? '';
      } while (next && rows.length < kExportMax);
      download(`inventory${store ? `-${store}` : ''}.csv`,
               toCsv(['store', 'item', 'count', 'threshold', 'updated_at'], rows));
    } catch (failure) {
      setExportError(failure);
    } finally {
      setExporting(null);
    }
  };

  const items = page.data?.items ?? [];
  return (
    <section aria-labelledby="inventory-title">
      <h1 id="inventory-title">Inventory</h1>
      <form class="filters" role="search" onSubmit={(e) => e.preventDefault()}>
        <div>
          <label for="inv-store">Store</label>
          <StoreSelect id="inv-store" value={store} stores={stores.data}
                       onChange={(s) => { setStore(s); resetPaging(); }} />
        </div>
        <div>
          <label for="inv-search">Search items</label>
          <input id="inv-search" type="search" value={search} placeholder="name contains…"
                 onInput={(e) => { setSearch((e.target as HTMLInputElement).value); resetPaging(); }} />
        </div>
        <div>
          <label for="inv-status">Show</label>
          <select id="inv-status" value={status}
                  onChange={(e) => { setStatus((e.target as HTMLSelectElement).value); resetPaging(); }}>
            <option value="">All items</option>
            <option value="out">Out of stock</option>
            <option value="low">Low</option>
          </select>
        </div>
        <div>
          <label for="inv-since">Changed since</label>
          <input id="inv-since" type="datetime-local" value={changedSince}
                 onInput={(e) => { setChangedSince((e.target as HTMLInputElement).value); resetPaging(); }} />
        </div>
        <div class="actions">
          <button type="button" onClick={exportCsv} disabled={exporting !== null}>Export CSV</button>
        </div>
      </form>
      {exporting && <p role="status">{exporting}</p>}
      <ErrorLine error={exportError} />
      <ErrorLine error={page.error} />
      <p class="summary" role="status" aria-live="polite">
        {page.loading && !page.data ? 'Loading…' :
         page.data?.total !== undefined ? `${page.data.total}${page.data.total_capped ? '+' : ''} items` :
         `${items.length} items on this page`}
      </p>
      <div class="table-wrap" tabIndex={0} role="region" aria-label="Inventory items">
        <table class="data" aria-describedby="inventory-title">
          <thead>
            <tr>
              {header('store', 'Store')}
              {header('item', 'Item')}
              {header('count', 'Count', true)}
              <th scope="col" class="num">Threshold</th>
              {header('updated_at', 'Updated')}
            </tr>
          </thead>
          <tbody>
            {items.map((item) => (
              <tr key={`${item.store}\u0000${item.item}`} data-store={item.store} data-item={item.item}>
                <td>{item.store}</td>
                <td>{hasFeature('item') ? <a href={href('item', item.store, item.item)}>{item.item}</a> :
                                          item.item}</td>
                <CountCell item={item} />
                <td class="num">{item.threshold ?? ''}</td>
                <td>{formatTime(item.updated_at)}</td>
              </tr>
            ))}
            {!page.loading && items.length === 0 && (
              <tr><td colSpan={5}>No items match.</td></tr>
            )}
          </tbody>
        </table>
      </div>
      <nav class="pager" aria-label="Pages">
        <button type="button" disabled={cursors.length === 0}
                onClick={() => setCursors(cursors.slice(0, -1))}>Previous</button>
        <span>Page {cursors.length + 1}</span>
        <button type="button" disabled={!page.data?.next_cursor}
                onClick={() => page.data?.next_cursor && setCursors([...cursors, page.data.next_cursor])}>
          Next
        </button>
      </nav>
    </section>
  );
}

