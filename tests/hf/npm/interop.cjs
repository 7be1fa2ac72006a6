// The Hugging Face Hub's JavaScript client (@huggingface/hub) against the
// endpoint in HF_ENDPOINT, for modelzoo's cache interoperability test.
//   node interop.cjs download REPO PATH REVISION CACHE_DIR  -> {"path": <snapshot entry>}
//   node interop.cjs scan CACHE_DIR                         -> scanCacheDir's repos, revisions and files
// Run with NODE_PATH pointing at the node_modules that `npm ci` made from package-lock.json.
const hub = require("@huggingface/hub");

async function main() {
  const [action, ...args] = process.argv.slice(2);
  const hubUrl = process.env.HF_ENDPOINT;
  if (action === "download") {
    const [repo, path, revision, cacheDir] = args;
    const pointer = await hub.downloadFileToCacheDir({ repo, path, revision, cacheDir, hubUrl });
    process.stdout.write(JSON.stringify({ path: pointer }) + "\n");
  } else if (action === "scan") {
    const info = await hub.scanCacheDir(args[0]);
    const repos = info.repos.map((r) => ({
      repo: r.id.name,
      size: r.size,
      revisions: r.revisions.map((v) => ({
        commit: v.commitOid,
        refs: v.refs,
        files: v.files.map((f) => ({ path: f.path, blob: f.blob.path, size: f.blob.size })),
      })),
    }));
    process.stdout.write(JSON.stringify({ repos, warnings: info.warnings.map((w) => String(w)) }) + "\n");
  } else {
    throw new Error("unknown action " + action);
  }
}

main().catch((e) => {
  process.stderr.write(String(e && e.stack ? e.stack : e) + "\n");
  process.exit(1);
});
