#include "modelzoo/hub/request.h"

#include "modelzoo/error.h"
#include "modelzoo/fetch/fetch.h"

namespace modelzoo {
namespace {

bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

bool is_url(const std::string& s) {
  return starts_with(s, "http://") || starts_with(s, "https://") || starts_with(s, "file://");
}

}  // namespace

std::pair<std::string, Weights> parse_model_request(const std::string& model, const std::string& weights,
                                                    const std::string& sha256) {
  std::string name = model, tag;
  if (const auto colon = name.find(':'); colon != std::string::npos) {
    tag = name.substr(colon + 1);
    name = name.substr(0, colon);
    if (name.empty() || tag.empty()) throw Error("--model: expected NAME or NAME:TAG, got \"" + model + "\"");
  }
  if (weights.empty()) {
    if (!sha256.empty()) throw Error("--sha256 is for --weights URL|FILE");
    return {name, tag.empty() ? Weights::default_weights() : Weights::tag(tag)};
  }
  if (!tag.empty()) throw Error("--model " + model + " names a tag, and --weights gives other weights: use one");
  try {
    // hf://ORG/NAME[@REVISION]/PATH: the Hub identifies the file itself, a --sha256 is optional.
    if (starts_with(weights, "hf://")) {
      return {name, sha256.empty() ? Weights::parse(weights) : Weights::hub(weights, sha256)};
    }
    if (is_url(weights)) {
      const bool in_url = weights.find("#sha256=") != std::string::npos;
      if (in_url && !sha256.empty()) {
        throw Error("--weights " + fetch::sanitize_url(weights) + " carries #sha256= and --sha256 gives another: use one");
      }
      if (!in_url && sha256.empty()) {
        throw Error("--weights " + fetch::sanitize_url(weights) +
                    ": a URL needs its SHA-256, as --sha256 HEX or URL#sha256=HEX");
      }
      return {name, in_url ? Weights::parse(weights) : Weights::url(weights, sha256, "", sha256.size() != 64)};
    }
  } catch (const Error& e) {
    const std::string what = e.what();
    throw Error(what.rfind("--weights", 0) == 0 ? what : "--weights: " + what);
  }
  return {name, Weights::file(weights, sha256)};
}

}  // namespace modelzoo
