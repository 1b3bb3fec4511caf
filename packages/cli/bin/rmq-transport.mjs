#!/usr/bin/env node
// Node 20 cannot run TypeScript itself: register tsx's loader, then load the CLI from its sources.
import { register } from "tsx/esm/api"

register()
await import("../src/bin.ts")
