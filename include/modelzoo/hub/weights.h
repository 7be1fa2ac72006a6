#pragma once
/// \file
/// Which weights a model gets: none, the registry default, a tag, a custom
/// URL with its SHA-256, or a local file. No torch types here.

#include <filesystem>
#include <string>

namespace modelzoo {

/// Which weights a model gets.
class Weights {
 public:
  enum class Kind { None, Default, Tag, Url, File, Hub };
  /// Random initialisation (`weights=None`).
  static Weights none() { return Weights(Kind::None); }
  /// The registry's default weights (`weights="DEFAULT"`, pretrained=true).
  static Weights default_weights() { return Weights(Kind::Default); }
  /// A registry tag such as "IMAGENET1K_V2".
  static Weights tag(std::string tag);
  /// A custom URL, verified against `sha256` (64 hex chars, or a prefix of 8
  /// to 64 when `sha256_is_prefix`; either case); cached under the URL's
  /// basename unless `file_name`. Throws Error naming the URL otherwise.
  static Weights url(std::string url, std::string sha256, std::string file_name = "",
                     bool sha256_is_prefix = false);
  /// A local file used in place (never copied); `sha256` optional.
  static Weights file(std::filesystem::path path, std::string sha256 = "");
  /// A file on the Hugging Face Hub, `hf://ORG/NAME[@REVISION]/PATH`
  /// (fetch/hf.h), cached in the Hub's own cache. The Hub's ETag (the
  /// SHA-256 of an LFS file) is verified while it streams; `sha256`
  /// (optional, 64 hex digits) pins the content as well. Throws Error for a
  /// malformed source.
  static Weights hub(std::string uri, std::string sha256 = "");
  /// Parses "none" | "default" | "DEFAULT" | a tag | "file:PATH" |
  /// "http(s)://URL#sha256=HEX" | "file://URL#sha256=HEX" (HEX: 64 digits, or
  /// a prefix of 8 to 63) | "hf://ORG/NAME[@REVISION]/PATH[#sha256=HEX]".
  /// Throws Error for a URL without a valid "#sha256=" or a malformed hf:// source.
  static Weights parse(const std::string& spec);

  Kind kind() const { return kind_; }
  const std::string& value() const { return value_; }
  const std::string& sha256() const { return sha256_; }
  bool sha256_is_prefix() const { return sha256_is_prefix_; }
  const std::string& file_name() const { return file_name_; }
  /// "none", "DEFAULT", the tag, the sanitised URL, the path or the hf:// source.
  std::string describe() const;

 private:
  explicit Weights(Kind k) : kind_(k) {}
  Kind kind_;
  std::string value_, sha256_, file_name_;
  bool sha256_is_prefix_ = false;
};

}  // namespace modelzoo
