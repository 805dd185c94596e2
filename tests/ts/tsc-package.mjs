// Compiles a TypeScript client package (its tsconfig.json, its src/) with the pinned tsc, into another folder,
// so that tests can compare what tsc emits with the package's committed or generated dist/:
//
//   node tsc-package.mjs <package dir> <out dir>       (writes <out dir>/dist/*.js and *.d.ts)
//
// The package's own tsconfig.json is used, with `react` resolved to this test package's @types/react (the
// package lists React as an optional peer dependency and has no node_modules of its own). Exits with tsc's status.

import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const [pkg, out] = process.argv.slice(2).map((p) => path.resolve(p));
if (!pkg || !out) {
  console.error("usage: node tsc-package.mjs <package dir> <out dir>");
  process.exit(2);
}
mkdirSync(out, { recursive: true });
const config = path.join(out, "tsconfig.json");
writeFileSync(
  config,
  JSON.stringify(
    {
      extends: path.join(pkg, "tsconfig.json"),
      compilerOptions: {
        rootDir: path.join(pkg, "src"),
        outDir: path.join(out, "dist"),
        paths: { react: [path.join(here, "node_modules/@types/react/index.d.ts")] },
      },
      include: [path.join(pkg, "src")],
    },
    null,
    2,
  ),
);
const tsc = spawnSync(path.join(here, "node_modules/.bin/tsc"), ["-p", config], { stdio: "inherit" });
process.exit(tsc.status ?? 1);
