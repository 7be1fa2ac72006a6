// `import`: put files obtained elsewhere into the cache after verifying them
// against the registry (temporary file + rename; a mismatch is refused with
// both hashes and nothing is written).
#include <algorithm>
#include <filesystem>
#include <memory>

#include "commands.h"
#include "modelzoo/cache/publish.h"
#include "modelzoo/cache/sha256.h"
#include "modelzoo/error.h"

namespace cache_tool {

namespace {

namespace fs = std::filesystem;

struct ImportOptions {
  std::vector<std::string> args;  // NAME[:TAG] FILE
  std::string dir;
};

std::string expected_text(const mz::registry::WeightsEntry& w) {
  return w.sha256.hex + (w.sha256.is_prefix ? " (prefix)" : "");
}

/// Imports `file` as `t`'s weights; fills `r` and returns whether it worked.
bool import_one(const Context& ctx, const fs::path& file, const Target& t, json& r) {
  const auto& w = *t.weights;
  r.update({{"file", file.string()}, {"model", t.model}, {"tag", w.tag}, {"file_name", w.file_name},
            {"expected_sha256", w.sha256.hex}, {"hash", w.sha256.is_prefix ? "prefix" : "full"}});
  const std::string what = t.label() + " from " + file.string();
  try {
    std::error_code ec;
    if (!fs::is_regular_file(file, ec)) throw mz::CacheError("not a regular file: " + file.string());
    const uint64_t size = fs::file_size(file, ec);
    if (w.size && size != *w.size) {
      r.update({{"status", "failed"}, {"actual_size", size}});
      r["error"] = "size mismatch importing " + what + ": expected " + std::to_string(*w.size) + " bytes, got " +
                   std::to_string(size) + "; nothing was written" + mz::registry::pinned_value_advice(t.model, w);
      return false;
    }
    const auto look = ctx.cache.find(w.file_name, expectation(w), /*verify_unstamped=*/false);
    if (look.state == mz::cache::EntryState::Verified) {
      // Already there: still tell the user whether their copy is good.
      const std::string digest = mz::cache::sha256_file(file);
      r["actual_sha256"] = digest;
      if (!w.sha256.matches(digest)) {
        r["status"] = "failed";
        r["error"] = "sha256 mismatch importing " + what + ": expected " + expected_text(w) + ", got " + digest +
                     " (the cache already holds a verified copy at " + look.path.string() + ")" +
                     mz::registry::pinned_value_advice(t.model, w, digest);
        return false;
      }
      r.update({{"status", "cached"}, {"path", look.path.string()}});
      return true;
    }
    // Copy while hashing; the hash is compared here so both values are reported.
    mz::cache::Expectation size_only;
    size_only.size = w.size;
    mz::cache::StagedFile staged =
        mz::cache::stage_verified(ctx.cache, w.file_name, size_only, mz::cache::file_source(file), what);
    r["actual_sha256"] = staged.sha256();
    if (!w.sha256.matches(staged.sha256())) {
      r["status"] = "failed";
      r["error"] = "sha256 mismatch importing " + what + ": expected " + expected_text(w) + ", got " +
                   staged.sha256() + "; nothing was written to " + staged.target().string() +
                   mz::registry::pinned_value_advice(t.model, w, staged.sha256());
      return false;  // the staged temporary goes with `staged`
    }
    const fs::path dest = staged.publish();
    r.update({{"status", "imported"}, {"path", dest.string()}, {"bytes", staged.size()}});
    return true;
  } catch (const mz::Error& e) {
    r.update({{"status", "failed"}, {"error", std::string(e.what())}});
    return false;
  }
}

/// Registry entries a file in an import directory can be: by name, else by content.
std::vector<Target> candidates_for(const Context& ctx, const fs::path& file, std::string* digest) {
  auto by_name = targets_for_file(ctx.registry, file.filename().string());
  if (!by_name.empty()) return by_name;
  *digest = mz::cache::sha256_file(file);
  std::vector<Target> by_hash;
  for (const auto& t : all_targets(ctx.registry, false)) {
    if (!t.weights->sha256.is_prefix && t.weights->sha256.matches(*digest)) by_hash.push_back(t);
  }
  return by_hash;
}

void print_result(const Context& ctx, const json& r) {
  const std::string status = r.value("status", "failed");
  const std::string label = r.contains("model") ? r["model"].get<std::string>() + ":" + r["tag"].get<std::string>()
                                                : std::string();
  if (status == "failed") {
    ctx.warn("FAILED   " + (label.empty() ? r["file"].get<std::string>() : label) + ": " +
             r["error"].get<std::string>());
  } else if (status == "skipped") {
    ctx.say("skipped  " + r["file"].get<std::string>() + ": " + r["reason"].get<std::string>());
  } else {
    ctx.say((status == "imported" ? "imported " : "cached   ") + label + " <- " + r["file"].get<std::string>() +
            " -> " + r["path"].get<std::string>());
  }
}

int run_import(Context& ctx, const ImportOptions& opt) {
  json results = json::array();
  if (!opt.dir.empty()) {
    if (!opt.args.empty()) throw UsageError("import: give either NAME[:TAG] FILE or --dir DIR, not both");
    std::error_code ec;
    if (!fs::is_directory(opt.dir, ec)) throw UsageError("import --dir: not a directory: " + opt.dir);
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(opt.dir)) {
      const std::string name = e.path().filename().string();
      if (name.empty() || name[0] == '.' || mz::cache::is_auxiliary_file(name)) continue;
      if (fs::is_regular_file(e.path(), ec)) files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      json r = {{"file", f.string()}};
      std::string digest;
      std::vector<Target> cands;
      try {
        cands = candidates_for(ctx, f, &digest);
      } catch (const mz::Error& e) {
        r.update({{"status", "failed"}, {"error", std::string(e.what())}});
      }
      if (!r.contains("status")) {
        if (cands.empty()) {
          r.update({{"status", "skipped"}, {"reason", "no registry entry has this file name or its sha256"}});
          if (!digest.empty()) r["actual_sha256"] = digest;
        } else {
          import_one(ctx, f, cands.front(), r);
        }
      }
      print_result(ctx, r);
      results.push_back(r);
    }
  } else {
    if (opt.args.size() != 2) {
      throw UsageError("import: expected NAME[:TAG] FILE or --dir DIR, got " + std::to_string(opt.args.size()) +
                       " argument(s)");
    }
    const Spec spec = Spec::parse(opt.args[0]);
    if (spec.tag == "*") throw UsageError("import: name one tag (NAME or NAME:TAG), not NAME:*");
    const auto targets = resolve(ctx, spec);
    json r = json::object();
    import_one(ctx, opt.args[1], targets.front(), r);
    print_result(ctx, r);
    results.push_back(r);
  }
  std::size_t imported = 0, cached = 0, skipped = 0, failed = 0;
  for (const auto& r : results) {
    const std::string s = r.value("status", "failed");
    if (s == "imported") ++imported;
    else if (s == "cached") ++cached;
    else if (s == "skipped") ++skipped;
    else ++failed;
  }
  ctx.emit({{"command", "import"},
            {"ok", failed == 0},
            {"results", results},
            {"summary", {{"imported", imported}, {"cached", cached}, {"skipped", skipped}, {"failed", failed}}}});
  if (!opt.dir.empty()) {
    ctx.say(std::to_string(imported) + " imported, " + std::to_string(cached) + " already cached, " +
            std::to_string(skipped) + " skipped, " + std::to_string(failed) + " failed");
  }
  return failed == 0 ? kOk : kFailure;
}

}  // namespace

Command add_import(CLI::App& root) {
  auto opt = std::make_shared<ImportOptions>();
  auto* app = root.add_subcommand(
      "import", "Verify files obtained elsewhere against the registry and put them into the cache");
  app->add_option("args", opt->args, "NAME[:TAG] FILE");
  app->add_option("--dir", opt->dir,
                  "import every file of DIR whose name (or, failing that, full sha256) is in the registry");
  app->footer(
      "A file whose size or sha256 differs from the registry is refused with both values; nothing is written.\n"
      "Example: cache_tool import vgg19 /media/usb/vgg19-dcbb9e9d.pth\n"
      "Example: cache_tool import --dir /media/usb/checkpoints");
  return {app, [opt](Context& ctx) { return run_import(ctx, *opt); }};
}

}  // namespace cache_tool
