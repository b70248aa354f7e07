// `npm run chaos` entry: plain Node 24 runs the TypeScript suite (erasable types only); the loader
// maps the "./x.js" specifiers of the .ts sources to the .ts files next to them.
import "../bench/control-ts-loader.mjs";

await import("./chaos.ts");
