#!/usr/bin/env node
// Entry point installed as `custos`. The TypeScript sources are compiled to
// dist/ by `npm ci` (the prepare script) or `npm run build`.
import { main } from '../dist/src/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
