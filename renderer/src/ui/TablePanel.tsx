import type { ReactNode } from 'react';

export interface Column {
  label: string;
  /** Read by screen readers only (a column of buttons needs a name, not a visible heading). */
  hidden?: boolean;
  className?: string;
}

/**
 * A list of things an admin page manages (keys, presets): a table in a flush panel, or what
 * stands in for it while it loads, when it could not be loaded, or when there is nothing yet.
 * The rows are the caller's (`<tr>`s), so each page keeps its own cells and hooks.
 */
export function TablePanel({
  label,
  what,
  loading,
  error,
  count,
  empty,
  columns,
  className,
  children,
}: {
  /** The accessible name of the panel ("Active keys"). */
  label: string;
  /** What the rows are, for the load error ("keys": "The keys could not be loaded: …"). */
  what: string;
  loading: boolean;
  error: Error | null;
  count: number;
  /** Shown instead of an empty table. */
  empty?: ReactNode;
  columns: Column[];
  className?: string;
  children: ReactNode;
}) {
  return (
    <section className="panel panel-flush" aria-label={label}>
      {loading ? (
        <p className="panel-empty">Loading…</p>
      ) : error ? (
        <p className="panel-empty" role="alert">
          The {what} could not be loaded: {error.message}
        </p>
      ) : count === 0 && empty ? (
        <p className="panel-empty">{empty}</p>
      ) : (
        <div className="table-scroll">
          <table className={className ? `table ${className}` : 'table'}>
            <thead>
              <tr>
                {columns.map((c) => (
                  <th key={c.label} scope="col" className={c.className}>
                    {c.hidden ? <span className="visually-hidden">{c.label}</span> : c.label}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>{children}</tbody>
          </table>
        </div>
      )}
    </section>
  );
}
