// classify: prints the top-k labels of images with a pretrained model.
//
//   classify --model resnet50[:TAG] [--weights URL[#sha256=HEX]|FILE [--sha256 HEX]]
//            [--registry FILE]... [--cache-dir DIR] [--offline] [--mirror URL]...
//            [--topk 5] [--json] [--plain] IMAGE...
//
// The model comes from the hub's pretrained path (registry -> cache ->
// download and verify -> load); every image is decoded (JPEG or PNG, by
// content), preprocessed with the weights' own transforms (registry entry)
// and classified on its own. A bad image is reported (naming it) and the
// others are still classified. The model runs through the inference path
// (modelzoo::optimize_for_inference, applied by the hub) unless --plain.
// Exit status: 0 every image classified, 1 a failure (model, weights or any
// image), 2 usage error.

#include <iomanip>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <ATen/ATen.h>
#include <c10/core/GradMode.h>
#include <nlohmann/json.hpp>

#include "modelzoo/error.h"
#include "modelzoo/hub/request.h"
#include "modelzoo/hub/hub.h"
#include "modelzoo/hub/weights_info.h"
#include "modelzoo/transforms/image.h"
#include "modelzoo/transforms/labels.h"
#include "modelzoo/transforms/preprocess.h"

namespace {

namespace mz = modelzoo;
using nlohmann::json;

constexpr int kOk = 0;
constexpr int kFailure = 1;
constexpr int kUsage = 2;

struct Args {
  std::string model;
  std::string weights;
  std::string sha256;
  std::vector<std::string> registries;
  std::string cache_dir;
  bool offline = false;
  std::vector<std::string> mirrors;
  int64_t topk = 5;
  bool json = false;
  bool plain = false;
  std::vector<std::string> images;
};

class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// --model NAME[:TAG], --weights and --sha256 -> name and Weights.
std::pair<std::string, mz::Weights> parse_request(const Args& a) {
  try {
    return mz::parse_model_request(a.model, a.weights, a.sha256);
  } catch (const mz::Error& e) {
    throw UsageError(e.what());
  }
}

mz::HubOptions hub_options(const Args& a) {
  mz::HubOptions o = mz::HubOptions::from_env();
  for (const auto& f : a.registries) o.registry.add_file(f);
  if (!a.cache_dir.empty()) o.cache.root = a.cache_dir;
  if (a.offline) o.fetch.offline = true;
  o.fetch.mirrors.insert(o.fetch.mirrors.begin(), a.mirrors.begin(), a.mirrors.end());
  if (a.plain) o.optimize = false;
  return o;
}

std::string format_probability(double p) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(4) << p;
  return s.str();
}

int run(const Args& a) {
  const auto [name, weights] = parse_request(a);
  const mz::HubOptions options = hub_options(a);
  const mz::WeightsInfo info = mz::weights_info(name, weights, options);
  const mz::transforms::Preprocess preprocess(info.transforms);
  mz::Classifier model = mz::get_model(name, weights, options);
  model->eval();

  json out = {{"model", name},
              {"weights", weights.describe()},
              {"tag", info.tag.empty() ? json(nullptr) : json(info.tag)},
              {"images", json::array()}};
  bool all_ok = true;
  for (const auto& path : a.images) {
    json item = {{"path", path}};
    try {
      const at::Tensor input = preprocess(mz::transforms::read_image(path)).unsqueeze(0);
      at::Tensor logits;
      {
        c10::NoGradGuard no_grad;
        logits = model->forward(input);
      }
      const auto top = mz::transforms::topk(logits, info.categories, a.topk).at(0);
      json list = json::array();
      for (const auto& p : top) list.push_back({{"index", p.index}, {"label", p.label}, {"probability", p.probability}});
      item["ok"] = true;
      item["top"] = std::move(list);
      if (!a.json) {
        std::cout << path << "\n";
        for (std::size_t i = 0; i < top.size(); ++i) {
          std::cout << "  " << std::setw(2) << (i + 1) << ". " << format_probability(top[i].probability) << "  "
                    << top[i].label << " (" << top[i].index << ")\n";
        }
      }
    } catch (const std::exception& e) {
      // modelzoo::ImageError names the file; anything else gets the name here.
      const bool named = dynamic_cast<const mz::ImageError*>(&e) != nullptr;
      const std::string message = named ? e.what() : path + ": " + e.what();
      all_ok = false;
      std::cerr << "classify: " << message << "\n";
      item["ok"] = false;
      item["error"] = message;
    }
    out["images"].push_back(std::move(item));
  }
  out["ok"] = all_ok;
  if (a.json) std::cout << out.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
  return all_ok ? kOk : kFailure;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"classify: top-k labels of images with a pretrained modelzoo model and its weights' preprocessing"};
  Args a;
  app.add_option("--model,-m", a.model, "model name, optionally with a weights tag: resnet50 or resnet50:IMAGENET1K_V2")
      ->required();
  app.add_option("--weights", a.weights,
                 "custom weights: an http(s)/file URL (with --sha256, or as URL#sha256=HEX), hf://ORG/NAME[@REV]/PATH, or a local file");
  app.add_option("--sha256", a.sha256, "expected SHA-256 of --weights (full, or a prefix of at least 8 hex digits)");
  app.add_option("--registry", a.registries, "extra registry JSON file (repeatable; after MODELZOO_REGISTRY)");
  app.add_option("--cache-dir", a.cache_dir, "cache directory (default: MODELZOO_CACHE, else torch.hub's)");
  app.add_flag("--offline", a.offline, "never touch the network (also MODELZOO_OFFLINE=1)");
  app.add_option("--mirror", a.mirrors, "mirror base URL tried before a weight's own URL (repeatable)");
  app.add_option("--topk,-k", a.topk, "number of classes per image")->check(CLI::PositiveNumber);
  app.add_flag("--json", a.json, "print one JSON document on stdout");
  app.add_flag("--plain", a.plain,
               "run the model without optimize_for_inference (also MODELZOO_INFERENCE=plain)");
  app.add_option("images", a.images, "JPEG or PNG files")->required();
  app.set_version_flag("--version", std::string("classify (modelzoo) ") + MZ_VERSION);
  app.footer("Exit status: 0 every image classified, 1 failure (model, weights or any image), 2 usage error.");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? kOk : kUsage;
  }

  auto fail = [&](const std::string& message, int status) {
    std::cerr << "classify: " << message << "\n";
    if (a.json && status == kFailure) {
      std::cout << json{{"ok", false}, {"error", message}}.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
    }
    return status;
  };
  try {
    return run(a);
  } catch (const UsageError& e) {
    return fail(e.what(), kUsage);
  } catch (const mz::Error& e) {
    return fail(e.what(), kFailure);
  } catch (const std::exception& e) {
    return fail(std::string("unexpected error: ") + e.what(), kFailure);
  }
}
