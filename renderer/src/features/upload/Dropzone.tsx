import { useRef, useState, type DragEvent } from 'react';
import { useSession } from '../../auth/SessionContext';
import { isDesktop } from '../../desktop/desktop';
import { formatLimit } from '../../ui/format';
import { Icon } from '../../ui/Icon';
import { collectFromDataTransfer, collectFromInput } from './collectFiles';
import { useUploads } from './UploadContext';
import { VariantDialog } from './VariantDialog';
import { choiceLabel } from './variantPresets';

const hasFiles = (e: DragEvent) => Array.from(e.dataTransfer?.types ?? []).includes('Files');

/** Where files and folders are dropped or picked; also where the variants to make are chosen. */
export function Dropzone({ compact }: { compact: boolean }) {
  const { me } = useSession();
  const { addFiles, choice } = useUploads();
  const fileInput = useRef<HTMLInputElement>(null);
  const folderInput = useRef<HTMLInputElement>(null);
  const [dragging, setDragging] = useState(false);
  const [variantsOpen, setVariantsOpen] = useState(false);
  // In the desktop app files on this machine are imported by path, not uploaded.
  const [desktop] = useState(isDesktop);

  const onDrop = async (e: DragEvent<HTMLElement>) => {
    e.preventDefault();
    // Handled here: the page-wide drop target must not add the same files again.
    e.stopPropagation();
    setDragging(false);
    const collected = await collectFromDataTransfer(e.dataTransfer);
    addFiles(collected.files, collected.skipped);
  };

  return (
    <>
      <section
        data-testid="dropzone"
        className={`dropzone${dragging ? ' is-dragging' : ''}${compact ? ' dropzone-compact' : ''}`}
        aria-label="Upload images"
        onDragEnter={(e) => hasFiles(e) && setDragging(true)}
        onDragOver={(e) => {
          if (!hasFiles(e)) return;
          e.preventDefault();
          e.dataTransfer.dropEffect = 'copy';
        }}
        onDragLeave={(e) => {
          if (!e.currentTarget.contains(e.relatedTarget as Node | null)) setDragging(false);
        }}
        onDrop={onDrop}
      >
        <span className="dropzone-icon" aria-hidden="true">
          <Icon name="upload" size={compact ? 22 : 30} />
        </span>
        <div className="dropzone-text">
          <p className="dropzone-title">{dragging ? (desktop ? 'Drop to import' : 'Drop to upload') : 'Drop images or folders here'}</p>
          <p className="dropzone-hint">
            JPEG, PNG, WebP, GIF, TIFF, AVIF, HEIC, SVG or camera RAW (DNG, CR2, CR3, NEF, ARW, RAF, ORF, RW2, …), up to {formatLimit(me.limits.maxUploadBytes)} each.{' '}
            {desktop ? 'Files are imported straight from disk, however large; the originals stay where they are.' : 'Uploads resume after a dropped connection.'}
          </p>
        </div>
        <div className="dropzone-actions">
          <button type="button" className="button button-primary" onClick={() => fileInput.current?.click()}>
            <Icon name="image" size={17} />
            Choose files
          </button>
          <button type="button" className="button button-secondary" onClick={() => folderInput.current?.click()}>
            <Icon name="folder" size={17} />
            Folder
          </button>
          <button type="button" className="button button-ghost" onClick={() => setVariantsOpen(true)} aria-haspopup="dialog">
            <Icon name="sliders" size={17} />
            <span>
              <span className="visually-hidden">Variants to make: </span>
              {choiceLabel(choice)}
            </span>
          </button>
        </div>
        <input
          ref={fileInput}
          className="visually-hidden"
          type="file"
          multiple
          tabIndex={-1}
          aria-label="Choose images to upload"
          onChange={(e) => {
            if (e.target.files) {
              const collected = collectFromInput(e.target.files, false);
              addFiles(collected.files, collected.skipped);
            }
            e.target.value = '';
          }}
        />
      </section>
      {/* Outside the drop zone, so the zone holds exactly one file input. */}
      <input
        ref={folderInput}
        className="visually-hidden"
        type="file"
        tabIndex={-1}
        aria-label="Choose a folder to upload"
        {...{ webkitdirectory: '', directory: '' }}
        onChange={(e) => {
          if (e.target.files) {
            const collected = collectFromInput(e.target.files, true);
            addFiles(collected.files, collected.skipped);
          }
          e.target.value = '';
        }}
      />
      <VariantDialog open={variantsOpen} onClose={() => setVariantsOpen(false)} />
    </>
  );
}
