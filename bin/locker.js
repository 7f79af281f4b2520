#!/usr/bin/env node
// The `locker` command: runs the compiled CLI (build first: npm run build).
import { main } from "../dist/src/cli/main.js";

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`locker: ${e && e.stack ? e.stack : e}\n`);
    process.exit(1);
  },
);
