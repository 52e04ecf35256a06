import { defineConfig } from "vitest/config";

// The app loads ui/dist from inside the binary (tauri://localhost); `npm run dev` serves the
// same files for `npm run tauri dev` (see src-tauri/tauri.dev.conf.json).
export default defineConfig({
  clearScreen: false,
  server: { port: 5173, strictPort: true, host: "127.0.0.1" },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // WebKitGTK 2.4x on Debian 12 runs ES2021 natively: no down-levelling needed.
    target: "es2021",
    // Everything stays a file: the CSP allows 'self' scripts and styles, nothing inline.
    assetsInlineLimit: 0,
  },
  test: {
    environment: "happy-dom",
    include: ["src/**/*.test.ts"],
  },
});
