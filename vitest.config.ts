import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['./src/polyfill.ts', './test/helpers/setup-token.ts'],
    // Integration tests spawn real node processes: run test files one at a time so a busy
    // 2-core CI machine never runs two meshes at once.
    fileParallelism: false,
    testTimeout: 300_000,
    hookTimeout: 300_000,
  },
})
