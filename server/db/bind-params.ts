import { QueryParam } from './sql-executor.js';

/**
 * The values for a compiled query's placeholders: a named parameter takes the call's argument
 * of that name; a constant Kysely made a parameter (`.where('role', '=', 'admin')`) keeps its value.
 */
export function binder(parameters: readonly unknown[]): (args: Record<string, unknown> | undefined) => unknown[] {
  const names = parameters.map((p) => (p instanceof QueryParam ? p.name : undefined));
  if (names.every((name) => name === undefined)) {
    const constants = [...parameters];
    return () => constants;
  }
  return (args) => {
    const values = new Array<unknown>(parameters.length);
    for (let i = 0; i < parameters.length; i++) {
      const name = names[i];
      if (name === undefined) values[i] = parameters[i];
      else {
        const value = args?.[name];
        // A missing argument is a bug in the repository, not a NULL to write.
        if (value === undefined) throw new TypeError(`query parameter "${name}" was not given`);
        values[i] = value;
      }
    }
    return values;
  };
}
