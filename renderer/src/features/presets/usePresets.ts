import { useQuery } from '@tanstack/react-query';
import type { PresetList } from '../../api/schemas';
import { useSession } from '../../auth/SessionContext';

export const PRESETS_KEY = ['presets'] as const;

/**
 * The installation's presets. Only admin keys may list them (CONTRACT §10): for other keys the
 * query is not run, and a preset is named by hand.
 */
export function usePresets() {
  const session = useSession();
  return useQuery({
    queryKey: PRESETS_KEY,
    queryFn: ({ signal }) => session.api.get<PresetList>('/v1/presets', signal),
    enabled: session.can('presets'),
  });
}
