import { useEffect, useState } from 'react';
import { isDesktop } from '../../desktop/desktop';
import { Icon } from '../../ui/Icon';
import { collectFromDataTransfer } from './collectFiles';
import { useUploads } from './UploadContext';

const carriesFiles = (e: DragEvent) => Array.from(e.dataTransfer?.types ?? []).includes('Files');

/**
 * Files can be dropped anywhere in the window, not only on the drop zone. The overlay only
 * shows where they will go; it lets events through, so the drop zone still gets its own drops.
 */
export function DropOverlay() {
  const { addFiles } = useUploads();
  const [visible, setVisible] = useState(false);

  useEffect(() => {
    let depth = 0;
    const end = () => {
      depth = 0;
      setVisible(false);
    };
    const enter = (e: DragEvent) => {
      if (!carriesFiles(e)) return;
      depth++;
      setVisible(true);
    };
    const leave = (e: DragEvent) => {
      if (!carriesFiles(e)) return;
      depth = Math.max(0, depth - 1);
      if (depth === 0) setVisible(false);
    };
    const over = (e: DragEvent) => {
      if (!carriesFiles(e)) return;
      e.preventDefault();
      if (e.dataTransfer) e.dataTransfer.dropEffect = 'copy';
    };
    // Capture phase: runs even when the drop zone handles the drop and stops it from bubbling.
    const dropAnywhere = () => end();
    const drop = (e: DragEvent) => {
      if (!carriesFiles(e) || !e.dataTransfer) return;
      e.preventDefault();
      void collectFromDataTransfer(e.dataTransfer).then((c) => addFiles(c.files, c.skipped));
    };
    window.addEventListener('dragenter', enter);
    window.addEventListener('dragleave', leave);
    window.addEventListener('dragover', over);
    window.addEventListener('drop', dropAnywhere, true);
    window.addEventListener('drop', drop);
    window.addEventListener('dragend', end);
    return () => {
      window.removeEventListener('dragenter', enter);
      window.removeEventListener('dragleave', leave);
      window.removeEventListener('dragover', over);
      window.removeEventListener('drop', dropAnywhere, true);
      window.removeEventListener('drop', drop);
      window.removeEventListener('dragend', end);
    };
  }, [addFiles]);

  if (!visible) return null;
  return (
    <div className="drop-overlay" aria-hidden="true">
      <div className="drop-overlay-card">
        <Icon name="upload" size={36} />
        <p>{isDesktop() ? 'Drop to import into your library' : 'Drop to upload to your library'}</p>
      </div>
    </div>
  );
}
