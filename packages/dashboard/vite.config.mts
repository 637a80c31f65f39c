import { fileURLToPath } from 'node:url';
import vue from '@vitejs/plugin-vue';
import { defineConfig } from 'vite';

// Gateways serve dist/ at /dashboard/ under a Content-Security-Policy that allows only the
// dashboard's own files: everything is bundled (Vue included), no inline script, no CDN.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/dashboard/',
  plugins: [vue()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // The pages are for recent browsers of operators; no legacy transforms.
    target: 'es2022',
    // Inlined assets would be data: URLs, which the policy does not allow.
    assetsInlineLimit: 0,
  },
  server: {
    // `npm run dev -w @herald/dashboard` against a gateway on the default API port.
    proxy: { '/dashboard/api': { target: 'http://127.0.0.1:3232', changeOrigin: false } },
  },
});
