// The JSON API under /api/v1, with the session cookie and the CSRF token of the login.

export interface User {
  name: string;
  role: 'admin' | 'manager' | 'viewer';
  stores: string[] | null;
}

export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string,
              readonly details: string[] = [], readonly retryAfter: string | null = null) {
    super(message);
  }
}

let csrfToken: string | null = null;

// The dashboard pages the server serves, from GET /api/v1/me's `features`: null (the embedded
// server, which sends none) means every page; the api Lambda function serves only some.
let features: string[] | null = null;

export function setFeatures(list: string[] | null | undefined): void {
  features = Array.isArray(list) ? list : null;
}

export function hasFeature(name: string): boolean {
  return features === null || features.includes(name);
}

export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

export function csrfHeader(): Record<string, string> {
  return csrfToken ? {'X-CSRF-Token': csrfToken} : {};
}

// Called when a request comes back 401: the session ended (logout elsewhere, timeout).
let onUnauthenticated: () => void = () => {};
export function setUnauthenticatedHandler(handler: () => void): void {
  onUnauthenticated = handler;
}

export async function errorFrom(status: number, text: string,
                                retryAfter: string | null): Promise<ApiError> {
  try {
    const body = JSON.parse(text);
    if (body && body.error) {
      return new ApiError(status, body.error.code ?? 'error', body.error.message ?? text,
                          body.error.details ?? [], retryAfter);
    }
  } catch {
    // Not JSON: fall through to the status line.
  }
  return new ApiError(status, 'error', `HTTP ${status}`, [], retryAfter);
}

// GETs started before the page that needs them renders (prefetch), taken once by api().
const prefetched = new Map<string, Promise<unknown>>();

// Starts `GET path` now, so the page's first api('GET', path) gets it without waiting for
// the login check and the first render: the first page shows one round trip sooner.
export function prefetch(path: string): void {
  const request = api('GET', path, undefined, false);
  request.catch(() => {});  // the page that takes it handles the error
  prefetched.set(path, request);
}

// Forgets what was prefetched (at login: it was asked for without a session).
export function dropPrefetched(): void {
  prefetched.clear();
}

export async function api<T = any>(method: string, path: string, body?: unknown,
                                   usePrefetched = true): Promise<T> {
  if (method === 'GET' && usePrefetched) {
    const early = prefetched.get(path);
    if (early) {
      prefetched.delete(path);
      return early as Promise<T>;
    }
  }
  const headers: Record<string, string> = {Accept: 'application/json'};
  if (method !== 'GET' && method !== 'HEAD') Object.assign(headers, csrfHeader());
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(`/api/v1${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
  });
  const text = await response.text();
  if (!response.ok) {
    const error = await errorFrom(response.status, text, response.headers.get('Retry-After'));
    if (response.status === 401 && path !== '/login') onUnauthenticated();
    throw error;
  }
  return (text ? JSON.parse(text) : null) as T;
}

// `?a=1&b=2` of the set (non-empty) members of `params`.
export function query(params: Record<string, string | number | null | undefined>): string {
  const parts: string[] = [];
  for (const [key, value] of Object.entries(params)) {
    if (value === null || value === undefined || value === '') continue;
    parts.push(`${encodeURIComponent(key)}=${encodeURIComponent(String(value))}`);
  }
  return parts.length ? `?${parts.join('&')}` : '';
}

export function errorText(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  if (error instanceof Error) return error.message;
  return String(error);
}

export function formatTime(value: string | null | undefined): string {
  if (!value) return '';
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? value : date.toLocaleString();
}
