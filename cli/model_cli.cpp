#include "model_cli.h"

#include <iostream>

#include <nlohmann/json.hpp>

#include "modelzoo/error.h"
#include "modelzoo/hub/request.h"

namespace modelzoo::cli {

void add_model_options(CLI::App& app, ModelOptions& o, const std::string& example) {
  app.add_option("--model,-m", o.model, "model name, optionally with a weights tag: " + example)->required();
  app.add_option("--weights", o.weights,
                 "custom weights: an http(s)/file URL (with --sha256, or as URL#sha256=HEX), "
                 "hf://ORG/NAME[@REV]/PATH, or a local file");
  app.add_option("--sha256", o.sha256, "expected SHA-256 of --weights (full, or a prefix of at least 8 hex digits)");
  app.add_option("--registry", o.registries, "extra registry JSON file (repeatable; after MODELZOO_REGISTRY)");
  app.add_option("--cache-dir", o.cache_dir, "cache directory (default: MODELZOO_CACHE, else torch.hub's)");
  app.add_flag("--offline", o.offline, "never touch the network (also MODELZOO_OFFLINE=1)");
  app.add_option("--mirror", o.mirrors, "mirror base URL tried before a weight's own URL (repeatable)");
  app.add_flag("--json", o.json, "print one JSON document on stdout");
  app.add_flag("--plain", o.plain, "run the model without optimize_for_inference (also MODELZOO_INFERENCE=plain)");
}

std::pair<std::string, Weights> parse_request(const ModelOptions& o) {
  try {
    return parse_model_request(o.model, o.weights, o.sha256);
  } catch (const Error& e) {
    throw UsageError(e.what());
  }
}

HubOptions hub_options(const ModelOptions& o) {
  HubOptions h = HubOptions::from_env();
  for (const auto& f : o.registries) h.registry.add_file(f);
  if (!o.cache_dir.empty()) h.cache.root = o.cache_dir;
  if (o.offline) h.fetch.offline = true;
  h.fetch.mirrors.insert(h.fetch.mirrors.begin(), o.mirrors.begin(), o.mirrors.end());
  if (o.plain) h.optimize = false;
  return h;
}

int parse_and_run(const std::string& tool, CLI::App& app, int argc, char** argv, const ModelOptions& o,
                  const std::function<int()>& run) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? kOk : kUsage;
  }
  auto fail = [&](const std::string& message, int status) {
    std::cerr << tool << ": " << message << "\n";
    if (o.json && status == kFailure) {
      const nlohmann::json doc{{"ok", false}, {"error", message}};
      std::cout << doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    }
    return status;
  };
  try {
    return run();
  } catch (const UsageError& e) {
    return fail(e.what(), kUsage);
  } catch (const Error& e) {
    return fail(e.what(), kFailure);
  } catch (const std::exception& e) {
    return fail(std::string("unexpected error: ") + e.what(), kFailure);
  }
}

}  // namespace modelzoo::cli
