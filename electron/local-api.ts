/**
 * The few API calls the shell itself makes (menu and tray: import files, add a watch folder),
 * over loopback with the session key, exactly as the UI would.
 */
export function createLocalApi(baseUrl: string, key: string) {
  async function post(path: string, body: unknown): Promise<unknown> {
    const res = await fetch(`${baseUrl}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const answer = (await res.json().catch(() => undefined)) as { error?: { message?: string } } | undefined;
    if (!res.ok) throw new Error(answer?.error?.message ?? `HTTP ${res.status}`);
    return answer;
  }
  return {
    importFiles: (paths: string[]) => post('/v1/image/import', { paths }),
    addWatchFolder: (path: string) => post('/v1/watch', { path }),
  };
}

export type LocalApi = ReturnType<typeof createLocalApi>;
