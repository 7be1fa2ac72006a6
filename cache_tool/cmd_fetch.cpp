// `fetch`: download and verify registry weights into the cache, several at a
// time, with per-file progress; one failure does not stop the others.
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <set>

#include "commands.h"
#include "modelzoo/cache/hf_cache.h"
#include "modelzoo/fetch/hf.h"
#include "modelzoo/error.h"
#include "modelzoo/fetch/fetch.h"
#include "progress.h"

namespace cache_tool {

namespace {

using Clock = std::chrono::steady_clock;

struct FetchCliOptions {
  std::vector<std::string> specs;
  bool all = false;
  std::vector<std::string> list_files;
  int jobs = 4;
  std::string progress = "auto";
  std::optional<int> connections;      ///< --connections (else MODELZOO_CONNECTIONS, else 4)
  std::optional<long> timeout_seconds; ///< --timeout (else MODELZOO_TIMEOUT)
  std::optional<int> retries;          ///< --retries (else MODELZOO_RETRIES)
};

/// One line of work: a spec as typed and what it resolved to (or why not).
struct Item {
  std::string spec;
  std::string hub;  ///< an hf:// source given directly
  std::optional<Target> target;
  std::string resolve_error;
  json result;
};

std::vector<Item> collect(const Context& ctx, const FetchCliOptions& opt) {
  std::vector<std::string> specs;
  if (opt.all) {
    for (const auto& t : all_targets(ctx.registry, /*default_tags_only=*/true)) specs.push_back(t.model);
  }
  for (const auto& f : opt.list_files) {
    auto lines = read_list_file(f);
    specs.insert(specs.end(), lines.begin(), lines.end());
  }
  specs.insert(specs.end(), opt.specs.begin(), opt.specs.end());
  if (specs.empty()) throw UsageError("fetch: expected NAME[:TAG]..., hf://ORG/NAME[@REV]/PATH, --all or --from-file LIST");

  std::vector<Item> items;
  std::set<std::string> seen;
  for (const auto& s : specs) {
    if (mz::fetch::is_hub_uri(s)) {
      try {
        mz::fetch::HubFile::parse(s);
      } catch (const mz::FetchError& e) {
        throw UsageError(e.what());
      }
      if (!seen.insert(s).second) continue;
      Item item;
      item.spec = s;
      item.hub = s;
      items.push_back(std::move(item));
      continue;
    }
    const Spec spec = Spec::parse(s);  // syntax errors are usage errors
    try {
      for (const auto& t : resolve(ctx, spec)) {
        if (!seen.insert(t.label()).second) continue;
        Item item;
        item.spec = s;
        item.target = t;
        items.push_back(std::move(item));
      }
    } catch (const mz::RegistryError& e) {
      Item item;
      item.spec = s;
      item.resolve_error = e.what();
      items.push_back(std::move(item));
    }
  }
  return items;
}

/// An hf:// source (given directly, or a registry entry's URL) into the Hub's cache.
void fetch_hub_one(const Context& ctx, ProgressBoard& board, Item& item) {
  json& r = item.result;
  const std::string uri = item.hub.empty() ? item.target->weights->url : item.hub;
  const std::string label = item.hub.empty() ? item.target->label() : item.hub;
  mz::cache::Expectation expect;
  if (item.target) {
    expect = expectation(*item.target->weights);
    r["model"] = item.target->model;
    r["tag"] = item.target->weights->tag;
  }
  r["source"] = uri;
  const auto t0 = Clock::now();
  const int id = board.start(label);
  mz::fetch::FetchOptions fo = ctx.fetch;
  fo.on_progress = [&board, id](const mz::fetch::Progress& p) { board.update(id, p.bytes, p.total, p.bytes_per_second); };
  try {
    const auto res = mz::fetch::fetch_hub_file(mz::fetch::HubFile::parse(uri), mz::cache::HfCache(ctx.cache.options()),
                                               fo, expect, label);
    const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    json warnings = json::array();
    for (const auto& w : res.warnings) {
      warnings.push_back(w);
      board.note("warning  " + label + ": " + w);
    }
    r.update({{"ok", true},
              {"status", res.downloaded ? "downloaded" : "cached"},
              {"path", res.path.string()},
              {"blob", res.blob.string()},
              {"commit", res.commit},
              {"etag", res.etag},
              {"bytes", res.bytes},
              {"sha256", res.sha256.empty() ? json(nullptr) : json(res.sha256)},
              {"url", res.downloaded ? json(res.url) : json(nullptr)},
              {"bytes_transferred", res.bytes_transferred},
              {"bytes_reused", res.bytes_reused},
              {"resumed", res.resumed},
              {"connections", res.connections},
              {"seconds", secs},
              {"warnings", warnings}});
    board.finish(id, ctx.quiet ? "" : std::string(res.downloaded ? "fetched  " : "cached   ") + label + " -> " +
                                          res.path.string() + " (" + human_size(res.bytes) + ", commit " +
                                          res.commit + ")");
  } catch (const mz::Error& e) {
    r.update({{"status", "failed"}, {"error", e.what()}});
    board.finish(id, "FAILED   " + label + ": " + e.what());
  }
}

void fetch_one(const Context& ctx, ProgressBoard& board, Item& item) {
  json& r = item.result;
  r = {{"spec", item.spec}, {"ok", false}};
  if (!item.hub.empty() || (item.target && mz::fetch::is_hub_uri(item.target->weights->url))) {
    fetch_hub_one(ctx, board, item);
    return;
  }
  if (!item.target) {
    r["status"] = "failed";
    r["error"] = item.resolve_error;
    board.finish(board.start(item.spec), "FAILED   " + item.spec + ": " + item.resolve_error);
    return;
  }
  const Target& t = *item.target;
  const std::string label = t.label();
  r["model"] = t.model;
  r["tag"] = t.weights->tag;
  r["file_name"] = t.weights->file_name;

  const auto t0 = Clock::now();
  const auto pre = ctx.cache.find(t.weights->file_name, expectation(*t.weights), /*verify_unstamped=*/false);
  if (pre.state == mz::cache::EntryState::Verified) {
    std::error_code ec;
    const auto bytes = std::filesystem::file_size(pre.path, ec);
    r.update({{"ok", true}, {"status", "cached"}, {"path", pre.path.string()}, {"bytes", bytes},
              {"sha256", pre.sha256}, {"url", nullptr}, {"seconds", 0.0}});
    if (!ctx.quiet) board.note("cached   " + label + " -> " + pre.path.string());
    return;
  }

  const int id = board.start(label);
  mz::fetch::FetchOptions fo = ctx.fetch;
  // Another process downloading the same file: say so once, then show its progress.
  auto waiting_said = std::make_shared<bool>(false);
  fo.on_progress = [&board, &ctx, id, label, waiting_said](const mz::fetch::Progress& p) {
    if (p.waiting && !*waiting_said) {
      *waiting_said = true;
      if (!ctx.quiet) board.note("waiting  " + label + ": another process is downloading it");
    }
    board.update(id, p.bytes, p.total, p.bytes_per_second);
  };
  try {
    const auto res = mz::fetch::fetch_to_cache(fetch_request(t), ctx.cache, fo);
    const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    r.update({{"ok", true},
              {"status", res.downloaded ? "downloaded" : "cached"},
              {"path", res.path.string()},
              {"bytes", res.bytes},
              {"sha256", res.sha256},
              {"url", res.downloaded ? json(res.url) : json(nullptr)},
              {"seconds", secs}});
    json warnings = json::array();
    for (const auto& w : res.warnings) {
      warnings.push_back(w);
      board.note("warning  " + label + ": " + w);
    }
    r.update({{"bytes_transferred", res.bytes_transferred},
              {"bytes_reused", res.bytes_reused},
              {"resumed", res.resumed},
              {"published_kept_part", res.published_kept_part},
              {"connections", res.connections},
              {"warnings", warnings}});
    std::string line;
    if (!res.downloaded) {
      line = "cached   " + label + " -> " + res.path.string() + " (" + human_size(res.bytes) + ")";
    } else if (res.published_kept_part) {
      line = "published " + label + " -> " + res.path.string() + " (" + human_size(res.bytes) +
             ": a complete download kept from an earlier run, verified; nothing transferred)";
    } else {
      line = "fetched  " + label + " -> " + res.path.string() + " (" + human_size(res.bytes);
      if (res.resumed) {
        line += ": resumed, " + human_size(res.bytes_reused) + " kept from an earlier run, " +
                human_size(res.bytes_transferred) + " transferred";
      }
      if (secs > 0) line += ", " + human_rate(static_cast<double>(res.bytes_transferred) / secs);
      if (res.connections > 1) line += ", " + std::to_string(res.connections) + " connections";
      line += ")";
    }
    board.finish(id, ctx.quiet ? "" : line);
  } catch (const mz::Error& e) {
    // A mismatch against a single-source pin says so, and how to accept the file.
    const std::string msg = dynamic_cast<const mz::HashMismatchError*>(&e) != nullptr
                                ? mz::registry::explain_mismatch(t.model, *t.weights, e.what())
                                : std::string(e.what());
    r.update({{"status", "failed"}, {"error", msg}});
    board.finish(id, "FAILED   " + label + ": " + msg);
  }
}

int run_fetch(Context& ctx, const FetchCliOptions& opt) {
  if (opt.jobs < 1 || opt.jobs > 64) throw UsageError("--jobs: expected 1..64, got " + std::to_string(opt.jobs));
  const int max_connections = mz::fetch::FetchOptions::kMaxConnections;
  if (opt.connections) {
    if (*opt.connections < 1 || *opt.connections > max_connections) {
      throw UsageError("--connections: expected 1.." + std::to_string(max_connections) + ", got " +
                       std::to_string(*opt.connections));
    }
    ctx.fetch.connections = *opt.connections;
  }
  if (opt.timeout_seconds) {
    if (*opt.timeout_seconds < 1 || *opt.timeout_seconds > 86400) {
      throw UsageError("--timeout: expected 1..86400 seconds, got " + std::to_string(*opt.timeout_seconds));
    }
    ctx.fetch.connect_timeout_seconds = *opt.timeout_seconds;
    ctx.fetch.low_speed_time_seconds = *opt.timeout_seconds;
  }
  if (opt.retries) {
    if (*opt.retries < 0 || *opt.retries > 100) {
      throw UsageError("--retries: expected 0..100, got " + std::to_string(*opt.retries));
    }
    ctx.fetch.max_attempts = *opt.retries + 1;
  }
  std::vector<Item> items = collect(ctx, opt);
  const ProgressMode mode = ctx.quiet ? ProgressMode::None : parse_progress_mode(opt.progress, stderr);
  {
    ProgressBoard board(mode, stderr);
    parallel_for(items.size(), opt.jobs, [&](std::size_t i) { fetch_one(ctx, board, items[i]); });
  }

  json results = json::array();
  std::size_t downloaded = 0, cached = 0, failed = 0, resumed = 0, warned = 0;
  uint64_t bytes_downloaded = 0;  // transferred in this run (not the kept parts of resumed files)
  for (const auto& item : items) {
    const std::string status = item.result.value("status", "failed");
    if (item.result.contains("warnings") && !item.result["warnings"].empty()) ++warned;
    if (status == "downloaded") {
      ++downloaded;
      bytes_downloaded += item.result.value("bytes_transferred", uint64_t{0});
      if (item.result.value("resumed", false) || item.result.value("published_kept_part", false)) ++resumed;
    } else if (status == "cached") {
      ++cached;
    } else {
      ++failed;
    }
    results.push_back(item.result);
  }
  ctx.emit({{"command", "fetch"},
            {"ok", failed == 0},
            {"results", results},
            {"summary",
             {{"requested", items.size()},
              {"downloaded", downloaded},
              {"cached", cached},
              {"failed", failed},
              {"resumed", resumed},
              {"with_warnings", warned},
              {"bytes_downloaded", bytes_downloaded}}}});
  ctx.say(std::to_string(downloaded) + " downloaded (" + human_size(bytes_downloaded) + " transferred" +
          (resumed > 0 ? ", " + std::to_string(resumed) + " continued from an earlier run" : std::string()) + "), " +
          std::to_string(cached) + " already cached, " + std::to_string(failed) + " failed");
  return failed == 0 ? kOk : kFailure;
}

}  // namespace

Command add_fetch(CLI::App& root) {
  auto opt = std::make_shared<FetchCliOptions>();
  auto* app = root.add_subcommand("fetch", "Download and verify weights into the cache (several in parallel)");
  app->add_option("spec", opt->specs,
                  "NAME[:TAG] (TAG defaults to the model's default weights; NAME:* = every tag), or a Hub file "
                  "hf://ORG/NAME[@REVISION]/PATH (into the Hub's cache, --hf-cache-dir)");
  app->add_flag("--all", opt->all, "every registered model's default weights");
  app->add_option("--from-file", opt->list_files, "a file with one NAME[:TAG] per line ('#' starts a comment)");
  app->add_option("--jobs,-j", opt->jobs, "downloads at the same time (default 4)");
  app->add_option("--connections", opt->connections,
                  "connections per download: large files from servers that serve ranges are split "
                  "(1.." + std::to_string(mz::fetch::FetchOptions::kMaxConnections) +
                      "; default MODELZOO_CONNECTIONS, else 4)");
  app->add_option("--timeout", opt->timeout_seconds,
                  "seconds to connect, and that a transfer may stall before it is retried "
                  "(default MODELZOO_TIMEOUT, else 30 to connect and 60 stalled)");
  app->add_option("--retries", opt->retries,
                  "retries of a transfer (or range) that made no progress; 0 = one attempt only "
                  "(default MODELZOO_RETRIES, else 3)");
  app->add_option("--progress", opt->progress,
                  "auto (bars on a terminal, plain lines otherwise), bar, plain or none (default auto)");
  app->footer(
      "Progress and per-file lines go to stderr, the summary to stdout (--json: one document on stdout).\n"
      "Exit status 1 when any entry failed; the others are still fetched.\n"
      "Example: cache_tool --cache-dir /data/torch fetch vgg19 resnet50:IMAGENET1K_V2 vit_b_16:*\n"
      "Example: cache_tool fetch --from-file models.txt --jobs 2\n"
      "Example: cache_tool fetch hf://timm/resnet50.a1_in1k/model.safetensors resnet50:TIMM_A1_IN1K");
  return {app, [opt](Context& ctx) { return run_fetch(ctx, *opt); }};
}

}  // namespace cache_tool
