import { defineConfig } from 'vitest/config';

// Unit tests of the pure modules (event reducer, message tree, formatting, back-off):
// they import nothing from JupyterLab, so they run in plain Node.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'node'
  }
});
