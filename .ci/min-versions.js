#!/usr/bin/env node
// Every installed copy of the packages with known security fixes must be at or above the
// minimum safe version (DESIGN/attacks.md). Used by .ci/run beside `npm audit`, and instead
// of it when the registry's audit endpoint cannot be reached from this machine.
'use strict';
const { execFileSync } = require('node:child_process');

const MINIMUM = {
  samlify: '2.13.1',
  'xml-crypto': '6.1.2',
  '@xmldom/xmldom': '0.8.15',
  'node-forge': '1.4.0',
  '@node-saml/node-saml': '5.1.0',
};

function cmp(a, b) {
  const pa = a.split(/[.-]/).map((x) => parseInt(x, 10) || 0);
  const pb = b.split(/[.-]/).map((x) => parseInt(x, 10) || 0);
  for (let i = 0; i < 3; i++) if (pa[i] !== pb[i]) return pa[i] - pb[i];
  return 0;
}

let tree;
try {
  tree = JSON.parse(execFileSync('npm', ['ls', '--all', '--omit=dev', '--json'], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }));
} catch (err) {
  tree = JSON.parse(err.stdout);
}
const found = {};
(function walk(node, trail) {
  for (const [name, dep] of Object.entries(node.dependencies || {})) {
    if (!dep.version) continue;
    (found[name] ||= []).push({ version: dep.version, path: [...trail, name].join(' > ') });
    walk(dep, [...trail, name]);
  }
})(tree, []);

let bad = 0;
for (const [name, min] of Object.entries(MINIMUM)) {
  for (const { version, path } of found[name] || []) {
    const ok = cmp(version, min) >= 0;
    if (!ok) bad++;
    console.log(`${ok ? 'ok  ' : 'BAD '} ${name}@${version} (minimum ${min})  ${path}`);
  }
}
if (bad) {
  console.error(`${bad} package(s) below their minimum safe version`);
  process.exit(1);
}
