import { useQueryClient } from '@tanstack/react-query';
import { createContext, useContext, useEffect, useState, type ReactNode } from 'react';
import { followEvents } from '../../api/events';
import { useSession } from '../../auth/SessionContext';
import { applyStatusEvent } from './libraryCache';

type Connection = 'connecting' | 'live' | 'reconnecting';

const ConnectionContext = createContext<Connection>('connecting');

/**
 * Keeps the library live: follows the server's image.status events and applies them to what is
 * on screen. After a reconnect (the server restarted, the laptop slept) the lists are reloaded,
 * since events sent meanwhile were missed.
 */
export function LiveEventsProvider({ children }: { children: ReactNode }) {
  const { api } = useSession();
  const queryClient = useQueryClient();
  const [connection, setConnection] = useState<Connection>('connecting');

  useEffect(
    () =>
      followEvents(api.key, {
        onStatus: (event) => applyStatusEvent(queryClient, api, event),
        onConnected: (reconnected) => {
          setConnection('live');
          if (reconnected) void queryClient.invalidateQueries({ queryKey: ['images'] });
        },
        onDisconnected: () => setConnection('reconnecting'),
      }),
    [api, queryClient],
  );

  return <ConnectionContext.Provider value={connection}>{children}</ConnectionContext.Provider>;
}

export const useLiveConnection = () => useContext(ConnectionContext);
