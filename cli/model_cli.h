#pragma once
// What classify, detect and segment share: the options that name a model and
// its weights (--model NAME[:TAG], --weights, --sha256, --registry,
// --cache-dir, --offline, --mirror, --json, --plain), their reading into a
// model name, Weights and HubOptions, and the parse / run / report tail with
// the tools' exit statuses.
#include <functional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include "modelzoo/hub/hub.h"
#include "modelzoo/hub/weights.h"

namespace modelzoo::cli {

constexpr int kOk = 0;
constexpr int kFailure = 1;
constexpr int kUsage = 2;

/// A mistake in the command line found after parsing (exit status 2).
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ModelOptions {
  std::string model;
  std::string weights;
  std::string sha256;
  std::vector<std::string> registries;
  std::string cache_dir;
  bool offline = false;
  std::vector<std::string> mirrors;
  bool json = false;
  bool plain = false;
};

/// Registers ModelOptions' options on `app`; `example` shows --model's forms
/// ("resnet50 or resnet50:IMAGENET1K_V2").
void add_model_options(CLI::App& app, ModelOptions& o, const std::string& example);

/// --model NAME[:TAG], --weights and --sha256 -> name and Weights; UsageError
/// naming the option when they do not fit together.
std::pair<std::string, Weights> parse_request(const ModelOptions& o);

/// HubOptions::from_env() with the command line's registries, cache
/// directory, offline mode, mirrors (first) and --plain applied.
HubOptions hub_options(const ModelOptions& o);

/// Parses the command line, then runs `run`: CLI11's usage errors and
/// UsageError exit 2, modelzoo errors and anything else 1, each reported on
/// stderr as "TOOL: message" (and, with --json, as {"ok": false, "error": ...}
/// on stdout).
int parse_and_run(const std::string& tool, CLI::App& app, int argc, char** argv, const ModelOptions& o,
                  const std::function<int()>& run);

}  // namespace modelzoo::cli
