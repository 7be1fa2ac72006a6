#include <utility>

#include "modelzoo/error.h"
#include "modelzoo/fetch/fetch.h"
#include "modelzoo/fetch/hf.h"
#include "modelzoo/hub/weights.h"

namespace modelzoo {

Weights Weights::tag(std::string tag) {
  if (tag.empty()) throw Error("Weights::tag: expected a weights tag such as IMAGENET1K_V1, got an empty string");
  Weights w(Kind::Tag);
  w.value_ = std::move(tag);
  return w;
}

Weights Weights::url(std::string url, std::string sha256, std::string file_name, bool sha256_is_prefix) {
  if (url.empty()) throw Error("Weights::url: expected a URL, got an empty string");
  if (sha256.empty()) {
    throw Error("Weights::url(" + fetch::sanitize_url(url) +
                "): a SHA-256 is required for a custom URL (integrity is not optional)");
  }
  const bool hex = sha256.find_first_not_of("0123456789abcdefABCDEF") == std::string::npos;
  if (!hex || sha256.size() < 8 || sha256.size() > 64 || (!sha256_is_prefix && sha256.size() != 64)) {
    throw Error("Weights::url(" + fetch::sanitize_url(url) + "): expected " +
                (sha256_is_prefix ? "8 to 64" : "64") + " hex digits of SHA-256, got \"" + sha256 + "\"");
  }
  Weights w(Kind::Url);
  w.value_ = std::move(url);
  w.sha256_ = std::move(sha256);
  w.file_name_ = std::move(file_name);
  w.sha256_is_prefix_ = sha256_is_prefix;
  return w;
}

Weights Weights::file(std::filesystem::path path, std::string sha256) {
  if (path.empty()) throw Error("Weights::file: expected a path, got an empty string");
  Weights w(Kind::File);
  w.value_ = path.string();
  w.sha256_ = std::move(sha256);
  return w;
}

Weights Weights::hub(std::string uri, std::string sha256) {
  const fetch::HubFile parsed = fetch::HubFile::parse(uri);  // throws FetchError naming the source
  if (!sha256.empty() && (sha256.size() != 64 || sha256.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos)) {
    throw Error("Weights::hub(" + uri + "): expected 64 hex digits of SHA-256, got \"" + sha256 + "\"");
  }
  Weights w(Kind::Hub);
  w.value_ = parsed.uri();
  w.sha256_ = std::move(sha256);
  w.file_name_ = parsed.path;
  return w;
}

Weights Weights::parse(const std::string& spec) {
  if (spec.empty() || spec == "none" || spec == "None") return none();
  if (fetch::is_hub_uri(spec)) {
    const auto hash_pos = spec.rfind("#sha256=");
    if (hash_pos == std::string::npos) return hub(spec);
    return hub(spec.substr(0, hash_pos), spec.substr(hash_pos + 8));
  }
  if (spec == "default" || spec == "DEFAULT") return default_weights();
  const bool is_url = spec.rfind("http://", 0) == 0 || spec.rfind("https://", 0) == 0 || spec.rfind("file://", 0) == 0;
  if (spec.rfind("file:", 0) == 0 && !is_url) return file(spec.substr(5));
  if (is_url) {
    const auto hash_pos = spec.rfind("#sha256=");
    if (hash_pos == std::string::npos) {
      throw Error("weights spec " + fetch::sanitize_url(spec) +
                  ": expected URL#sha256=HEX (a custom URL needs its SHA-256; file:PATH names a local file)");
    }
    const std::string hex = spec.substr(hash_pos + 8);
    return url(spec.substr(0, hash_pos), hex, "", hex.size() != 64);
  }
  return tag(spec);
}

std::string Weights::describe() const {
  switch (kind_) {
    case Kind::None: return "none";
    case Kind::Default: return "DEFAULT";
    case Kind::Tag: return value_;
    case Kind::Url: return fetch::sanitize_url(value_);
    case Kind::File: return value_;
    case Kind::Hub: return value_;
  }
  return "?";
}

}  // namespace modelzoo
