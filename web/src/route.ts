// Hash routing (`/#/inventory`): the server serves HTML at `/` only.
import {useEffect, useState} from 'preact/hooks';

export function currentRoute(): string[] {
  const hash = location.hash.replace(/^#\/?/, '');
  return hash ? hash.split('/').map((part) => {
    try {
      return decodeURIComponent(part);
    } catch {
      return part;
    }
  }) : [];
}

export function useRoute(): string[] {
  const [route, setRoute] = useState(currentRoute());
  useEffect(() => {
    const update = () => setRoute(currentRoute());
    addEventListener('hashchange', update);
    return () => removeEventListener('hashchange', update);
  }, []);
  return route;
}

export function href(...parts: string[]): string {
  return `#/${parts.map(encodeURIComponent).join('/')}`;
}

// What the login page says when a sign-in with SSO failed: the server's OIDC callback sends
// the browser to `#/login?error=<code>` (the status code only; the detail is in its log).
const kSsoErrors: Record<string, string> = {
  unauthenticated: 'Sign-in with SSO failed: the provider refused it, it expired, or its answer ' +
      'did not verify. Try again.',
  permission_denied: 'Sign-in with SSO was refused: a local account has this name, your groups ' +
      'give you no role here, or your account is disabled.',
  unavailable: 'The sign-in provider could not be reached. Try again later.',
  deadline_exceeded: 'The sign-in provider could not be reached. Try again later.',
  invalid_argument: 'The sign-in provider\'s answer was incomplete. Try again.',
};

export function ssoErrorText(hash: string): string | null {
  const match = /^#\/login\?(.*)$/.exec(hash);
  if (!match) return null;
  const code = new URLSearchParams(match[1]).get('error');
  if (!code) return null;
  return kSsoErrors[code] ?? `Sign-in with SSO failed (${code.replace(/[^a-z_]/g, '').slice(0, 40)}).`;
}
