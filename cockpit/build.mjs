// Bundles the page into one directory Cockpit serves as it is (default dist/):
//   node build.mjs [OUTDIR]
// Everything comes from node_modules (npm ci, package-lock.json); nothing is fetched here or
// at run time. cockpit.js is not bundled: Cockpit serves it as ../base1/cockpit.js.
import { build } from "esbuild";
import { copyFileSync, mkdirSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = resolve(process.argv[2] ?? join(here, "dist"));

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
await build({
    entryPoints: { corral: join(here, "src/index.js"), style: join(here, "src/style.css") },
    bundle: true,
    minify: true,
    sourcemap: false,
    // ES modules out (index.html loads corral.js as one): noVNC awaits at its top level.
    format: "esm",
    target: ["es2022"],
    outdir: out,
    // PatternFly's fonts and icons become files next to the bundle.
    loader: { ".woff": "file", ".woff2": "file", ".ttf": "file", ".svg": "file", ".png": "file",
              ".jpg": "file", ".eot": "file" },
    assetNames: "assets/[name]-[hash]",
    logLevel: "warning",
});
for (const f of ["index.html", "manifest.json"]) copyFileSync(join(here, "src", f), join(out, f));
console.log(`cockpit page built in ${out}`);
