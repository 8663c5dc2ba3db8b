import { desktopBridge } from '../../desktop/desktop';
import { Icon } from '../../ui/Icon';
import { NodesSection } from './NodesSection';
import { SyncSection } from './SyncSection';
import { WatchFoldersSection } from './WatchFoldersSection';

/**
 * What the server does by itself, for admins: the folders it watches, its replication to an S3
 * bucket, and the nodes sharing its database. Each section polls while the page is open (and
 * stops when it closes).
 */
export function StatusView() {
  const bridge = desktopBridge();
  return (
    <div className="page page-status">
      <div className="page-header">
        <div>
          <h1>Status</h1>
          <p className="page-subtitle">Watch folders, S3 sync and nodes of this server, updated every few seconds.</p>
        </div>
        {bridge && (
          <div className="page-actions">
            <button type="button" className="button button-secondary" onClick={() => void bridge.openDataFolder()}>
              <Icon name="folder" size={17} />
              Open data folder
            </button>
          </div>
        )}
      </div>
      <WatchFoldersSection />
      <SyncSection />
      <NodesSection />
    </div>
  );
}
