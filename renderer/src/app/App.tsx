import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { useState } from 'react';
import { ApiError } from '../api/client';
import { LoginView } from '../auth/LoginView';
import { SessionProvider, useSessionControl } from '../auth/SessionContext';
import { ToastProvider } from '../ui/Toasts';
import { AppShell } from './AppShell';

export function App() {
  const [queryClient] = useState(
    () =>
      new QueryClient({
        defaultOptions: {
          queries: {
            staleTime: 30_000,
            refetchOnWindowFocus: false,
            // Errors the server meant (4xx) are not retried; dropped connections are.
            retry: (count, error) => !(error instanceof ApiError && error.status >= 400 && error.status < 500) && count < 3,
          },
        },
      }),
  );
  return (
    <QueryClientProvider client={queryClient}>
      <ToastProvider>
        <SessionProvider>
          <Gate />
        </SessionProvider>
      </ToastProvider>
    </QueryClientProvider>
  );
}

function Gate() {
  const { state } = useSessionControl();
  if (state.kind === 'checking') {
    return (
      <div className="splash" aria-busy="true">
        <span className="visually-hidden">Signing in…</span>
      </div>
    );
  }
  if (state.kind === 'signed-out') return <LoginView error={state.error} />;
  return <AppShell key={state.me.keyId} />;
}
