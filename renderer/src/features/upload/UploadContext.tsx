import { createContext, useCallback, useContext, useEffect, useMemo, useState, useSyncExternalStore, type ReactNode } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import type { ImageRecord } from '../../api/schemas';
import { useSession } from '../../auth/SessionContext';
import { localPathsOf } from '../../desktop/desktop';
import { useToast } from '../../ui/Toasts';
import { imageArrived } from '../library/libraryCache';
import type { PickedFile } from './collectFiles';
import { discardInterrupted, findInterrupted, offsetOf, type InterruptedUpload } from './interruptedUploads';
import { UploadQueue, type UploadItem } from './uploadQueue';
import { variantsOf, type VariantChoice } from './variantPresets';

interface UploadContextValue {
  queue: UploadQueue;
  choice: VariantChoice;
  setChoice: (choice: VariantChoice) => void;
  addFiles: (files: PickedFile[], skipped?: number) => void;
  interrupted: Array<InterruptedUpload & { offset?: number }>;
  discard: (upload: InterruptedUpload) => void;
}

const Context = createContext<UploadContextValue | undefined>(undefined);

const CHOICE_KEY = 'darkroom.variants';

function loadChoice(): VariantChoice {
  try {
    const saved = JSON.parse(window.localStorage.getItem(CHOICE_KEY) ?? 'null') as VariantChoice | null;
    if (saved && typeof saved.presetId === 'string' && Array.isArray(saved.custom)) return saved;
  } catch {
    // fall back to the default
  }
  return { presetId: 'standard', custom: [] };
}

export function UploadProvider({ children }: { children: ReactNode }) {
  const { api, me, can } = useSession();
  const queryClient = useQueryClient();
  const toast = useToast();
  const [choice, setChoiceState] = useState<VariantChoice>(loadChoice);
  const [interrupted, setInterrupted] = useState<Array<InterruptedUpload & { offset?: number }>>([]);

  const queue = useMemo(
    () =>
      new UploadQueue({
        key: api.key,
        keyId: me.keyId,
        limits: me.limits,
        onUploaded: (imageId) => void imageArrived(queryClient, api, imageId),
        // The desktop app is on loopback with an admin key: the server reads the file where it is.
        importFile: (path, variants) => api.json<ImageRecord>('POST', '/v1/image/import', { paths: [path], ...(variants ? { variants } : {}) }),
      }),
    [api, me, queryClient],
  );
  useEffect(() => () => queue.destroy(), [queue]);

  const refreshInterrupted = useCallback(async () => {
    const found = await findInterrupted(me.keyId);
    const active = new Set(queue.snapshot().map((i) => i.file.name + i.size));
    const list = found.filter((u) => !active.has(u.filename + u.size));
    const withOffsets = await Promise.all(list.map(async (u) => ({ ...u, offset: await offsetOf(u, api.key) })));
    // Uploads the server no longer has cannot be continued: forget them quietly.
    for (const u of withOffsets) if (u.offset === undefined) void discardInterrupted(u, api.key);
    setInterrupted(withOffsets.filter((u) => u.offset !== undefined));
  }, [api, me.keyId, queue]);

  useEffect(() => {
    void refreshInterrupted();
  }, [refreshInterrupted]);

  const setChoice = useCallback((next: VariantChoice) => {
    setChoiceState(next);
    try {
      window.localStorage.setItem(CHOICE_KEY, JSON.stringify(next));
    } catch {
      // not saved: the choice lasts for this page
    }
  }, []);

  const addFiles = useCallback(
    (files: PickedFile[], skipped = 0) => {
      // In the desktop app files on disk are imported by path (a 5 GB scan is not sent through
      // HTTP); anywhere else, or when any file of the set has no path, the set is uploaded. Only
      // an admin key may import, so a window signed in with another key uploads too.
      const localPaths = can('import') ? localPathsOf(files.map((f) => f.file)) : undefined;
      if (files.length) queue.add(files, variantsOf(choice), localPaths);
      // Files that continue an interrupted upload leave the interrupted list.
      const names = new Set(files.map((f) => f.file.name + f.file.size));
      setInterrupted((list) => list.filter((u) => !names.has(u.filename + u.size)));
      if (skipped) toast(`${skipped} file${skipped === 1 ? '' : 's'} in the folder ${skipped === 1 ? 'is' : 'are'} not an image and ${skipped === 1 ? 'was' : 'were'} skipped.`);
      if (!files.length && !skipped) toast('No files to upload.');
    },
    [queue, choice, toast, can],
  );

  const discard = useCallback(
    (upload: InterruptedUpload) => {
      setInterrupted((list) => list.filter((u) => u.storageKey !== upload.storageKey));
      void discardInterrupted(upload, api.key);
    },
    [api],
  );

  const value = useMemo(() => ({ queue, choice, setChoice, addFiles, interrupted, discard }), [queue, choice, setChoice, addFiles, interrupted, discard]);
  return <Context.Provider value={value}>{children}</Context.Provider>;
}

export function useUploads(): UploadContextValue {
  const value = useContext(Context);
  if (!value) throw new Error('useUploads outside UploadProvider');
  return value;
}

export function useUploadItems(): UploadItem[] {
  const { queue } = useUploads();
  return useSyncExternalStore(queue.subscribe, queue.snapshot);
}
