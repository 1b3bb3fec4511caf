import { defineWorkspace } from "vitest/config"

export default defineWorkspace([
  "packages/transport/vitest.config.ts",
  "packages/transport-node/vitest.config.ts",
  "packages/cli/vitest.config.ts",
  "packages/remoting/vitest.config.ts",
  "packages/client/vitest.config.ts",
  "packages/test-kit/vitest.config.ts"
])
