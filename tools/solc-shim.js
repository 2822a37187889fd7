#!/usr/bin/env node
// A native-style `solc` command line over solc-js (the official compiler built
// to WebAssembly), for py-solc-x and brownie, which cannot download a compiler
// here. It answers the two calls they make:
//   solc --version                      (in the native format they parse)
//   solc --standard-json [--allow-paths a,b] [--base-path p] [--include-path p]
// Imports are resolved from disk: as given (absolute or relative to the working
// directory), then under the base path, the include paths and the allow paths.
'use strict';
const fs = require('fs');
const path = require('path');
const solc = require(process.env.CHAOS_SOLCJS || 'solc');

const args = process.argv.slice(2);
const jsVersion = solc.version(); // e.g. 0.8.30+commit.73712a01.Emscripten.clang

if (args.includes('--version')) {
  const native = jsVersion.replace(/\.Emscripten\.clang$/, '.Linux.g++');
  fs.writeSync(1, `solc, the solidity compiler commandline interface\nVersion: ${native}\n`);
  process.exit(0);
}
if (!args.includes('--standard-json')) {
  fs.writeSync(2, 'solc-shim: only --version and --standard-json are supported\n');
  process.exit(1);
}

function optionValues(name) {
  const values = [];
  args.forEach((a, i) => {
    if (a === name && i + 1 < args.length) values.push(...args[i + 1].split(','));
    else if (a.startsWith(name + '=')) values.push(...a.slice(name.length + 1).split(','));
  });
  return values.filter(Boolean);
}
const roots = [process.cwd(), ...optionValues('--base-path'), ...optionValues('--include-path'),
               ...optionValues('--allow-paths')];

function findImport(importPath) {
  const candidates = path.isAbsolute(importPath)
    ? [importPath]
    : roots.map((root) => path.resolve(root, importPath));
  for (const candidate of candidates) {
    try {
      return { contents: fs.readFileSync(candidate, 'utf8') };
    } catch (_) { /* try the next root */ }
  }
  return { error: `File not found: ${importPath} (searched ${roots.join(', ')})` };
}

const input = fs.readFileSync(0, 'utf8');
const output = solc.compile(input, { import: findImport });
// Write synchronously: process.stdout.write on a pipe is cut at 64 KiB when the process exits.
const buffer = Buffer.from(output, 'utf8');
let offset = 0;
while (offset < buffer.length) {
  try {
    offset += fs.writeSync(1, buffer, offset, buffer.length - offset);
  } catch (err) {
    if (err.code !== 'EAGAIN') throw err;
  }
}
