import { lazy, Suspense, useEffect, type ReactNode } from 'react';
import { useSession } from '../auth/SessionContext';
import { ImageDetailView } from '../features/image/ImageDetailView';
import { KeysView } from '../features/keys/KeysView';
import { PresetsView } from '../features/presets/PresetsView';
import { WebhooksView } from '../features/webhooks/WebhooksView';
import { StatusView } from '../features/status/StatusView';
import { LibraryView } from '../features/library/LibraryView';
import { LiveEventsProvider } from '../features/library/LiveEvents';
import { DropOverlay } from '../features/upload/DropOverlay';
import { UploadPanel } from '../features/upload/UploadPanel';
import { UploadProvider } from '../features/upload/UploadContext';
import { Icon, type IconName } from '../ui/Icon';
import { Link, matchRoute, navigate, useLocation } from './router';

// The chart library is large: loaded only by those who open the statistics.
const StatsView = lazy(() => import('../features/stats/StatsView'));

export function AppShell() {
  const session = useSession();
  const { path } = useLocation();
  const route = matchRoute(path);
  const canImages = session.can('images');

  // A business key has no library: its home is the statistics.
  useEffect(() => {
    if (route.name === 'library' && !canImages && session.can('stats')) navigate('/stats', { replace: true });
  }, [route.name, canImages, session]);

  const page = (
    <main id="main" className="main" tabIndex={-1}>
      {route.name === 'library' && canImages && <LibraryView />}
      {route.name === 'image' && canImages && <ImageDetailView id={route.id} />}
      {route.name === 'stats' &&
        (session.can('stats') ? (
          <Suspense fallback={<div className="page-loading" aria-busy="true" />}>
            <StatsView />
          </Suspense>
        ) : (
          <Forbidden what="Statistics are available to business and admin keys." />
        ))}
      {route.name === 'webhooks' && (session.can('webhooks') ? <WebhooksView /> : <Forbidden what="Webhooks are managed with a user or admin key." />)}
      {route.name === 'keys' && (session.can('keys') ? <KeysView /> : <Forbidden what="Keys are managed with an admin key." />)}
      {route.name === 'presets' && (session.can('presets') ? <PresetsView /> : <Forbidden what="Presets are managed with an admin key." />)}
      {route.name === 'status' && (session.can('status') ? <StatusView /> : <Forbidden what="Watch folders and S3 sync are shown to admin keys." />)}
      {route.name === 'not-found' && <NotFound />}
      {(route.name === 'library' || route.name === 'image') && !canImages && !session.can('stats') && <Forbidden what="This key cannot see images." />}
    </main>
  );

  const shell = (
    <div className="shell">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <TopBar />
      {page}
    </div>
  );

  if (!canImages) return shell;
  return (
    <LiveEventsProvider>
      <UploadProvider>
        {shell}
        <UploadPanel />
        <DropOverlay />
      </UploadProvider>
    </LiveEventsProvider>
  );
}

function TopBar() {
  const session = useSession();
  const { path } = useLocation();
  const route = matchRoute(path);
  const items: Array<{ to: string; label: string; icon: IconName; active: boolean; show: boolean }> = [
    { to: '/', label: 'Library', icon: 'grid', active: route.name === 'library' || route.name === 'image', show: session.can('images') },
    { to: '/stats', label: 'Statistics', icon: 'chart', active: route.name === 'stats', show: session.can('stats') },
    { to: '/webhooks', label: 'Webhooks', icon: 'external', active: route.name === 'webhooks', show: session.can('webhooks') },
    { to: '/keys', label: 'Keys', icon: 'key', active: route.name === 'keys', show: session.can('keys') },
    { to: '/presets', label: 'Presets', icon: 'sliders', active: route.name === 'presets', show: session.can('presets') },
    { to: '/status', label: 'Status', icon: 'pulse', active: route.name === 'status', show: session.can('status') },
  ];
  return (
    <header className="topbar">
      <div className="topbar-inner">
        <Link to={session.can('images') ? '/' : '/stats'} className="brand" aria-label="Darkroom home">
          <span className="brand-mark">
            <Icon name="aperture" size={20} />
          </span>
          <span className="brand-name">Darkroom</span>
        </Link>
        <nav className="nav" aria-label="Main">
          {items
            .filter((i) => i.show)
            .map((item) => (
              <Link key={item.to} to={item.to} className="nav-link" title={item.label} aria-current={item.active ? 'page' : undefined}>
                <Icon name={item.icon} size={17} />
                <span className="nav-label">{item.label}</span>
              </Link>
            ))}
        </nav>
        <div className="topbar-end">
          <span className="identity" title={`Signed in as ${session.me.customer} (${session.me.role})`}>
            <span className="identity-avatar" aria-hidden="true">
              {session.me.customer.slice(0, 1).toUpperCase()}
            </span>
            <span className="identity-text">
              <span className="identity-customer">{session.me.customer}</span>
              <span className="identity-role">{session.me.role}</span>
            </span>
          </span>
          <button type="button" className="button button-ghost" onClick={session.signOut} aria-label="Sign out">
            <Icon name="logout" size={17} />
            <span className="hide-sm">Sign out</span>
          </button>
        </div>
      </div>
    </header>
  );
}

function Forbidden({ what }: { what: ReactNode }) {
  return (
    <div className="empty-state page-message">
      <span className="empty-icon">
        <Icon name="key" size={28} />
      </span>
      <h1>Not available with this key</h1>
      <p>{what}</p>
    </div>
  );
}

function NotFound() {
  return (
    <div className="empty-state page-message">
      <span className="empty-icon">
        <Icon name="info" size={28} />
      </span>
      <h1>Page not found</h1>
      <p>
        <Link to="/">Go to the start page</Link>
      </p>
    </div>
  );
}
