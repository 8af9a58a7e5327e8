#!/usr/bin/env node
'use strict';
// Thin launcher: the compiled CLI lives in dist/ (built by `npm ci` through the `prepare` script).
const path = require('path');
const fs = require('fs');
const entry = path.join(__dirname, '..', 'dist', 'src', 'cli', 'main.js');
if (!fs.existsSync(entry)) {
  process.stderr.write(
    'ainode: not built yet (missing dist/). Run `npm ci` or `npm run build` in ' + path.join(__dirname, '..') + '\n',
  );
  process.exit(2);
}
require(entry)
  .main(process.argv.slice(2))
  .then(
    (code) => {
      if (typeof code !== 'number') return;
      process.exitCode = code;
      // A command that failed exits now, whatever connections its failed start had opened.
      if (code !== 0) process.stderr.write('', () => process.exit(code));
    },
    (err) => {
      process.stderr.write('ainode: ' + (err && err.message ? err.name + ': ' + err.message : String(err)) + '\n', () =>
        process.exit(1),
      );
    },
  );
