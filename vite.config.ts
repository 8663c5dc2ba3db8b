import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

/**
 * The web UI: built from renderer/ into dist/renderer, which the server serves at "/".
 * `npm run dev:ui` runs it with hot reload against a server on 127.0.0.1:7410.
 */
export default defineConfig({
  root: 'renderer',
  plugins: [react()],
  build: {
    outDir: '../dist/renderer',
    emptyOutDir: true,
    target: 'es2022',
    // The server's CSP allows no inline code; keep every asset a file of its own.
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 800,
  },
  server: {
    proxy: { '/v1': { target: 'http://127.0.0.1:7410', changeOrigin: false } },
  },
});
