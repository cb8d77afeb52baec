// Vite builds the dashboard's client (index.html + src/client) into build/, served by src/server.
// `npm start` runs this build through Vite's JS API when the bundle is missing or stale.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  publicDir: false,
  build: {
    outDir: 'build',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
    chunkSizeWarningLimit: 1024,
  },
  server: {
    // `npx vite` in this folder, for client work: API calls go to a running `npm start`.
    proxy: { '/api': 'http://127.0.0.1:5178' },
  },
});
