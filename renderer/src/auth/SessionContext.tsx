import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { ApiClient, ApiError } from '../api/client';
import type { Me, Role } from '../api/schemas';
import { forgetKey, storeKey, storedKey, takeKeyFromFragment } from './session';

export interface Session {
  api: ApiClient;
  me: Me;
  signOut: () => void;
  can: (what: keyof typeof ROLE_RULES) => boolean;
}

/** What each role may see in the UI: the same rules as the API's (CONTRACT §2). */
export const ROLE_RULES: Record<'images' | 'stats' | 'keys' | 'presets' | 'status' | 'import' | 'webhooks', Role[]> = {
  images: ['user', 'admin'],
  stats: ['business', 'admin'],
  keys: ['admin'],
  // Render presets (/v1/presets): one list for the installation, listed and changed by admins;
  // any image key may name one in a render or a signed link.
  presets: ['admin'],
  // Webhook endpoints of the key's customer (/v1/webhooks).
  webhooks: ['user', 'admin'],
  // Watch folders and S3 sync (GET /v1/watch, /v1/sync) are for admins only.
  status: ['admin'],
  // Importing files by path (POST /v1/image/import), as the desktop app does.
  import: ['admin'],
};

type State =
  | { kind: 'checking' }
  | { kind: 'signed-out'; error?: string }
  | { kind: 'signed-in'; api: ApiClient; me: Me };

interface SessionControl {
  state: State;
  signIn: (key: string) => Promise<void>;
  signOut: (reason?: string) => void;
}

const SessionControlContext = createContext<SessionControl | undefined>(undefined);
const SessionContext = createContext<Session | undefined>(undefined);

export function SessionProvider({ children }: { children: ReactNode }) {
  const [state, setState] = useState<State>({ kind: 'checking' });

  const signOut = useCallback((reason?: string) => {
    forgetKey();
    setState({ kind: 'signed-out', error: reason });
  }, []);

  const signIn = useCallback(
    async (key: string) => {
      const api = new ApiClient({
        key,
        onUnauthorized: () => signOut('Your key is no longer valid. It may have been revoked; sign in with another key.'),
      });
      try {
        const me = await api.get<Me>('/v1/me');
        storeKey(key);
        setState({ kind: 'signed-in', api, me });
      } catch (err) {
        forgetKey();
        const message =
          err instanceof ApiError && err.status === 401
            ? 'That key is not valid, or it has been revoked.'
            : err instanceof ApiError
              ? err.message
              : 'Darkroom could not be reached.';
        setState({ kind: 'signed-out', error: message });
        throw err;
      }
    },
    [signOut],
  );

  useEffect(() => {
    const key = takeKeyFromFragment() ?? storedKey();
    if (key) signIn(key).catch(() => {});
    else setState({ kind: 'signed-out' });
    // A login link opened in a tab that already shows Darkroom only changes the fragment.
    const onHashChange = () => {
      const linked = takeKeyFromFragment();
      if (linked) signIn(linked).catch(() => {});
    };
    window.addEventListener('hashchange', onHashChange);
    return () => window.removeEventListener('hashchange', onHashChange);
  }, [signIn]);

  const control = useMemo(() => ({ state, signIn, signOut }), [state, signIn, signOut]);
  const session = useMemo<Session | undefined>(
    () =>
      state.kind === 'signed-in'
        ? { api: state.api, me: state.me, signOut: () => signOut(), can: (what) => ROLE_RULES[what].includes(state.me.role) }
        : undefined,
    [state, signOut],
  );

  return (
    <SessionControlContext.Provider value={control}>
      <SessionContext.Provider value={session}>{children}</SessionContext.Provider>
    </SessionControlContext.Provider>
  );
}

export function useSessionControl(): SessionControl {
  const control = useContext(SessionControlContext);
  if (!control) throw new Error('useSessionControl outside SessionProvider');
  return control;
}

/** The signed-in session; only for components rendered after sign-in. */
export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error('useSession before sign-in');
  return session;
}
