// Every kind of invalid registry document is refused with a message that
// names the file and the JSON path, and says what was expected and found.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "registry_test_util.h"

using modelzoo::registry::Registry;
using mzt::add_error;
using mzt::with;
using mzt::without;
using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::StartsWith;

namespace {
const std::string kT1 = "/models/m1/weights/T1";
}

TEST(RegistryValidation, ValidDocumentLoads) {
  Registry r;
  auto names = r.add_json(mzt::valid_doc().dump(), "my.json");
  EXPECT_EQ(names, std::vector<std::string>{"m1"});
  const auto& m = r.require("m1");
  EXPECT_EQ(m.arch, "vgg19");
  EXPECT_EQ(m.default_tag, "T1");
  EXPECT_EQ(m.origin, "my.json");
  ASSERT_EQ(m.weights.size(), 2u);
  const auto& t1 = m.require_weights("T1");
  EXPECT_EQ(t1.file_name, "m1-dcbb9e9d.pth");
  EXPECT_EQ(t1.size, 1234u);
  EXPECT_FALSE(t1.sha256.is_prefix);
  EXPECT_EQ(t1.categories, (std::vector<std::string>{"cat", "dog", "bird"}));
  EXPECT_EQ(t1.meta["arch_options"]["aux_logits"], true);
  const auto& t2 = m.require_weights("T2");
  EXPECT_EQ(t2.file_name, "m1_v2.pth");
  EXPECT_TRUE(t2.sha256.is_prefix);
  EXPECT_EQ(t2.sha256.hex, "0676ba61");
  EXPECT_FALSE(t2.size.has_value());
  EXPECT_TRUE(t2.categories.empty());
  EXPECT_EQ(t2.transforms.crop_size, 224);  // defaults when "transforms" is absent
  ASSERT_NE(r.find_categories("tiny"), nullptr);
}

TEST(RegistryValidation, BadJsonNamesLineAndColumn) {
  const std::string msg = add_error("{\n  \"format_version\": 1,\n  \"models\": {,}\n}");
  EXPECT_THAT(msg, StartsWith("my.json: invalid JSON: parse error at line 3, column 14"));
}

TEST(RegistryValidation, TruncatedJson) {
  const std::string msg = add_error(R"({"format_version": 1, "models": {)");
  EXPECT_THAT(msg, StartsWith("my.json: invalid JSON: parse error at line 1"));
  EXPECT_THAT(msg, HasSubstr("unexpected end of input"));
}

TEST(RegistryValidation, RootMustBeObject) {
  EXPECT_EQ(add_error("[1, 2]"), "my.json: /: expected an object, got an array of 2 elements");
}

TEST(RegistryValidation, MissingFormatVersion) {
  EXPECT_EQ(add_error(without("/format_version")),
            "my.json: /: missing required field \"format_version\" (expected 1)");
}

TEST(RegistryValidation, UnknownFormatVersion) {
  EXPECT_EQ(add_error(with("/format_version", 2)),
            "my.json: /format_version: unsupported format_version: expected 1, got number 2");
  EXPECT_EQ(add_error(with("/format_version", "1")),
            "my.json: /format_version: unsupported format_version: expected 1, got string \"1\"");
}

TEST(RegistryValidation, UnknownFieldSuggestsTheKnownOne) {
  EXPECT_EQ(add_error(with(kT1 + "/sha265", mzt::kHashA)),
            "my.json: /models/m1/weights/T1/sha265: unknown field \"sha265\" (did you mean \"sha256\"?); "
            "expected one of: url, sha256, sha256_prefix, size, hash_confidence, size_confidence, file_name, transforms, "
            "categories, meta");
  EXPECT_THAT(add_error(with("/modles", json::object())),
              StartsWith("my.json: /modles: unknown field \"modles\" (did you mean \"models\"?)"));
}

TEST(RegistryValidation, MissingUrl) {
  EXPECT_EQ(add_error(without(kT1 + "/url")),
            "my.json: /models/m1/weights/T1: missing required field \"url\" (the http://, https:// or "
            "file:// address of the weights)");
}

TEST(RegistryValidation, MissingHash) {
  EXPECT_EQ(add_error(without(kT1 + "/sha256")),
            "my.json: /models/m1/weights/T1: missing required field \"sha256\" (64 lowercase hex "
            "characters) or \"sha256_prefix\"");
}

TEST(RegistryValidation, BothHashForms) {
  EXPECT_EQ(add_error(with(kT1 + "/sha256_prefix", "dcbb9e9d")),
            "my.json: /models/m1/weights/T1: give either \"sha256\" or \"sha256_prefix\", not both");
}

TEST(RegistryValidation, ShortHash) {
  EXPECT_EQ(add_error(with(kT1 + "/sha256", "abc")),
            "my.json: /models/m1/weights/T1/sha256: expected 64 lowercase hex characters, got \"abc\"");
}

TEST(RegistryValidation, UppercaseHash) {
  std::string upper = "DCBB9E9DAD569FFF7A846263A77324FC34978FEA2BFB039C012D710E1776AE44";
  EXPECT_EQ(add_error(with(kT1 + "/sha256", upper)),
            "my.json: /models/m1/weights/T1/sha256: expected 64 lowercase hex characters, got \"" + upper +
                "\"");
}

TEST(RegistryValidation, NonHexHash) {
  std::string bad(64, 'g');
  EXPECT_THAT(add_error(with(kT1 + "/sha256", bad)),
              StartsWith("my.json: /models/m1/weights/T1/sha256: expected 64 lowercase hex characters, got "
                         "\"gggg"));
}

TEST(RegistryValidation, HashOfWrongType) {
  EXPECT_EQ(add_error(with(kT1 + "/sha256", 12)),
            "my.json: /models/m1/weights/T1/sha256: expected a string, got number 12");
}

TEST(RegistryValidation, MalformedPrefix) {
  const std::string p = "/models/m1/weights/T2/sha256_prefix";
  EXPECT_EQ(add_error(with(p, "0676")),
            "my.json: " + p + ": expected 8 to 64 lowercase hex characters, got \"0676\"");
  EXPECT_EQ(add_error(with(p, "0676ba6Z")),
            "my.json: " + p + ": expected 8 to 64 lowercase hex characters, got \"0676ba6Z\"");
}

TEST(RegistryValidation, UrlWithoutAllowedScheme) {
  EXPECT_EQ(add_error(with(kT1 + "/url", "ftp://example.invalid/m1.pth")),
            "my.json: /models/m1/weights/T1/url: expected a URL starting with http://, https://, file:// or hf://, "
            "got \"ftp://example.invalid/m1.pth\"");
  EXPECT_THAT(add_error(with(kT1 + "/url", "/tmp/m1.pth")),
              StartsWith("my.json: /models/m1/weights/T1/url: expected a URL starting with"));
}

TEST(RegistryValidation, UrlWithSpaces) {
  EXPECT_EQ(add_error(with(kT1 + "/url", "https://example.invalid/a b.pth")),
            "my.json: /models/m1/weights/T1/url: URL \"https://example.invalid/a b.pth\" contains spaces or "
            "control characters (percent-encode them)");
}

TEST(RegistryValidation, UrlWithoutUsableFileName) {
  EXPECT_EQ(add_error(with(kT1 + "/url", "https://example.invalid/models/")),
            "my.json: /models/m1/weights/T1/url: cannot use the URL's last path segment \"\" as a cache file "
            "name; give \"file_name\"");
}

TEST(RegistryValidation, FileUrlAndQueryStripping) {
  Registry r;
  r.add_json(with(kT1 + "/url", "file:///srv/weights/m1.pth"), "my.json");
  EXPECT_EQ(r.require("m1").require_weights("T1").file_name, "m1.pth");
  Registry q;
  q.add_json(with(kT1 + "/url", "HTTPS://example.invalid/x/m1-abc.pth?token=1#frag"), "my.json");
  EXPECT_EQ(q.require("m1").require_weights("T1").file_name, "m1-abc.pth");
}

TEST(RegistryValidation, UnsafeFileNames) {
  const std::string p = "/models/m1/weights/T2/file_name";
  EXPECT_EQ(add_error(with(p, "../evil.pth")),
            "my.json: " + p +
                ": unsafe file name \"../evil.pth\": expected a non-empty name of at most 255 bytes without "
                "'/', '\\', \"..\" or control characters");
  EXPECT_THAT(add_error(with(p, "a/b.pth")), StartsWith("my.json: " + p + ": unsafe file name \"a/b.pth\""));
  EXPECT_THAT(add_error(with(p, "a\\b.pth")), StartsWith("my.json: " + p + ": unsafe file name \"a\\\\b.pth\""));
  EXPECT_THAT(add_error(with(p, "a\nb.pth")), StartsWith("my.json: " + p + ": unsafe file name \"a\\nb.pth\""));
  EXPECT_THAT(add_error(with(p, "")), StartsWith("my.json: " + p + ": unsafe file name \"\""));
  EXPECT_THAT(add_error(with(p, std::string(256, 'a'))), StartsWith("my.json: " + p + ": unsafe file name \"aaaa"));
}

TEST(RegistryValidation, UnsafeModelName) {
  json d = mzt::valid_doc();
  d["models"]["../m1"] = d["models"]["m1"];
  d["models"].erase("m1");
  EXPECT_EQ(add_error(d.dump()),
            "my.json: /models/..~1m1: invalid model name \"../m1\": expected a non-empty name of at most "
            "255 bytes without '/', '\\', \"..\" or control characters");
  json e = mzt::valid_doc();
  e["models"][""] = e["models"]["m1"];
  EXPECT_THAT(add_error(e.dump()), StartsWith("my.json: /models/: invalid model name \"\""));
}

TEST(RegistryValidation, UnsafeTagName) {
  json d = mzt::valid_doc();
  d["models"]["m1"]["weights"]["T\x01"] = d["models"]["m1"]["weights"]["T2"];
  EXPECT_THAT(add_error(d.dump()),
              StartsWith("my.json: /models/m1/weights/T\\u0001: invalid weights tag \"T\\u0001\""));
}

TEST(RegistryValidation, ReservedDefaultTag) {
  json d = mzt::valid_doc();
  d["models"]["m1"]["weights"]["DEFAULT"] = d["models"]["m1"]["weights"]["T2"];
  EXPECT_THAT(add_error(d.dump()), StartsWith("my.json: /models/m1/weights/DEFAULT: \"DEFAULT\" is reserved"));
}

TEST(RegistryValidation, UnsafeArchAndTableNames) {
  EXPECT_THAT(add_error(with("/models/m1/arch", "a/b")),
              StartsWith("my.json: /models/m1/arch: invalid architecture name \"a/b\""));
  json d = mzt::valid_doc();
  d["categories"]["t\\x"] = {"a"};
  EXPECT_THAT(add_error(d.dump()), StartsWith("my.json: /categories/t\\x: invalid category table name"));
}

TEST(RegistryValidation, DuplicateModelName) {
  const std::string text = R"({"format_version": 1, "models": {
    "m1": {"weights": {"T": {"url": "https://h/a.pth", "sha256_prefix": "01234567"}}},
    "m1": {"weights": {"T": {"url": "https://h/b.pth", "sha256_prefix": "01234567"}}}}})";
  EXPECT_EQ(add_error(text),
            "my.json: /models: duplicate key \"m1\" (a name may appear only once per object in one document)");
}

TEST(RegistryValidation, DuplicateTagAndNestedPaths) {
  const std::string text = R"({"format_version": 1, "models": {
    "m1": {"weights": {"T": {"url": "https://h/a.pth", "sha256_prefix": "01234567"},
                       "T": {"url": "https://h/b.pth", "sha256_prefix": "01234567"}}}}})";
  EXPECT_THAT(add_error(text), StartsWith("my.json: /models/m1/weights: duplicate key \"T\""));
  // Inside arrays the path carries the element index.
  const std::string in_array = R"({"format_version": 1, "models": {
    "m1": {"weights": {"T": {"url": "https://h/a.pth", "sha256_prefix": "01234567",
      "meta": {"x": [1, {"k": 1}, {"k": 1, "k": 2}]}}}}}})";
  EXPECT_THAT(add_error(in_array), StartsWith("my.json: /models/m1/weights/T/meta/x/2: duplicate key \"k\""));
}

TEST(RegistryValidation, DuplicateCategoryTable) {
  const std::string text = R"({"format_version": 1, "categories": {"a": ["x"], "a": ["y"]}})";
  EXPECT_THAT(add_error(text), StartsWith("my.json: /categories: duplicate key \"a\""));
}

TEST(RegistryValidation, DefaultTagNotAmongWeights) {
  EXPECT_EQ(add_error(with("/models/m1/default", "T3")),
            "my.json: /models/m1/default: default tag \"T3\" is not among the weights tags (T1, T2); did you "
            "mean \"T1\"?");
  EXPECT_THAT(add_error(with("/models/m1/default", "DEFAULT")),
              StartsWith("my.json: /models/m1/default: default tag \"DEFAULT\" is not among"));
}

TEST(RegistryValidation, UnknownCategoryTable) {
  EXPECT_EQ(add_error(with(kT1 + "/categories", "tiyn")),
            "my.json: /models/m1/weights/T1/categories: unknown category table \"tiyn\" (did you mean "
            "\"tiny\"?); known tables: tiny");
}

TEST(RegistryValidation, CategoriesOfWrongType) {
  EXPECT_EQ(add_error(with(kT1 + "/categories", 5)),
            "my.json: /models/m1/weights/T1/categories: expected a category table name, an array of class "
            "names or null, got number 5");
  EXPECT_EQ(add_error(with(kT1 + "/categories", json::array({"a", 1}))),
            "my.json: /models/m1/weights/T1/categories/1: expected a string, got number 1");
  EXPECT_EQ(add_error(with("/categories/tiny", json::array())),
            "my.json: /categories/tiny: expected a non-empty array of class names, got an empty array");
}

TEST(RegistryValidation, ExplicitCategoryList) {
  Registry r;
  r.add_json(with(kT1 + "/categories", json::array({"x", "y"})), "my.json");
  EXPECT_EQ(r.require("m1").require_weights("T1").categories, (std::vector<std::string>{"x", "y"}));
}

TEST(RegistryValidation, MeanNotThreeNumbers) {
  EXPECT_EQ(add_error(with(kT1 + "/transforms/mean", json::array({0.5, 0.5}))),
            "my.json: /models/m1/weights/T1/transforms/mean: expected an array of 3 numbers, got an array of 2 "
            "elements");
  EXPECT_EQ(add_error(with(kT1 + "/transforms/mean", json::array({0.5, "0.5", 0.5}))),
            "my.json: /models/m1/weights/T1/transforms/mean/1: expected a number, got string \"0.5\"");
  EXPECT_EQ(add_error(with(kT1 + "/transforms/std", 0.2)),
            "my.json: /models/m1/weights/T1/transforms/std: expected an array of 3 numbers, got number 0.2");
}

TEST(RegistryValidation, StdZeroOrNegative) {
  EXPECT_EQ(add_error(with(kT1 + "/transforms/std", json::array({0.2, 0, 0.2}))),
            "my.json: /models/m1/weights/T1/transforms/std/1: expected a positive standard deviation, got "
            "number 0");
  EXPECT_EQ(add_error(with(kT1 + "/transforms/std", json::array({0.2, 0.2, -1}))),
            "my.json: /models/m1/weights/T1/transforms/std/2: expected a positive standard deviation, got "
            "number -1");
}

TEST(RegistryValidation, NonPositiveSizes) {
  EXPECT_EQ(add_error(with(kT1 + "/size", 0)),
            "my.json: /models/m1/weights/T1/size: expected a positive integer, got number 0");
  EXPECT_EQ(add_error(with(kT1 + "/size", -5)),
            "my.json: /models/m1/weights/T1/size: expected a positive integer, got number -5");
  EXPECT_EQ(add_error(with(kT1 + "/size", 1.5)),
            "my.json: /models/m1/weights/T1/size: expected a positive integer, got number 1.5");
  EXPECT_EQ(add_error(with(kT1 + "/transforms/crop_size", 0)),
            "my.json: /models/m1/weights/T1/transforms/crop_size: expected a positive integer, got number 0");
  EXPECT_EQ(add_error(with(kT1 + "/transforms/resize_size", -256)),
            "my.json: /models/m1/weights/T1/transforms/resize_size: expected a positive integer, got number "
            "-256");
  EXPECT_EQ(add_error(with(kT1 + "/transforms/crop_size", 100000)),
            "my.json: /models/m1/weights/T1/transforms/crop_size: expected at most 65536 pixels, got number "
            "100000");
  EXPECT_EQ(add_error(with(kT1 + "/meta/num_params", 0)),
            "my.json: /models/m1/weights/T1/meta/num_params: expected a positive integer, got number 0");
  EXPECT_EQ(add_error(with(kT1 + "/meta/min_size", json::array({32, 0}))),
            "my.json: /models/m1/weights/T1/meta/min_size/1: expected a positive integer, got number 0");
}

TEST(RegistryValidation, TransformEnumerations) {
  EXPECT_EQ(add_error(with(kT1 + "/transforms/interpolation", "lanczos")),
            "my.json: /models/m1/weights/T1/transforms/interpolation: expected \"bilinear\", \"bicubic\" or "
            "\"nearest\", got \"lanczos\"");
  EXPECT_EQ(add_error(with(kT1 + "/transforms/channel_order", "rgb")),
            "my.json: /models/m1/weights/T1/transforms/channel_order: expected \"RGB\" or \"BGR\", got \"rgb\"");
  EXPECT_EQ(add_error(with(kT1 + "/transforms/value_scale", 100)),
            "my.json: /models/m1/weights/T1/transforms/value_scale: expected 1 or 255, got number 100");
}

TEST(RegistryValidation, WrongTypes) {
  EXPECT_EQ(add_error(with("/models", json::array())),
            "my.json: /models: expected an object, got an array of 0 elements");
  EXPECT_EQ(add_error(with("/models/m1/weights", "T1")),
            "my.json: /models/m1/weights: expected an object, got string \"T1\"");
  EXPECT_EQ(add_error(with("/models/m1/default", 1)),
            "my.json: /models/m1/default: expected a string, got number 1");
  EXPECT_EQ(add_error(with(kT1 + "/meta", json::array())),
            "my.json: /models/m1/weights/T1/meta: expected an object, got an array of 0 elements");
  EXPECT_EQ(add_error(with(kT1 + "/meta/arch_options", true)),
            "my.json: /models/m1/weights/T1/meta/arch_options: expected an object, got boolean true");
  EXPECT_EQ(add_error(with(kT1 + "/meta/metrics/ImageNet-1K/acc@1", "high")),
            "my.json: /models/m1/weights/T1/meta/metrics/ImageNet-1K/acc@1: expected a number or null, got "
            "string \"high\"");
}

TEST(RegistryValidation, NewModelNeedsWeights) {
  EXPECT_EQ(add_error(without("/models/m1/weights")),
            "my.json: /models/m1: missing required field \"weights\" (\"m1\" is not defined by the built-in "
            "registry or an earlier file)");
  EXPECT_EQ(add_error(with("/models/m1/weights", json::object())),
            "my.json: /models/m1/weights: expected at least one weights entry for a new model, got an empty "
            "object");
}

TEST(RegistryValidation, ArchAndDefaultAreOptionalForNewModels) {
  json d = mzt::valid_doc();
  d["models"]["m1"].erase("arch");
  d["models"]["m1"].erase("default");
  Registry r;
  r.add_json(d.dump(), "my.json");
  EXPECT_EQ(r.require("m1").arch, "m1");
  EXPECT_EQ(r.require("m1").default_tag, "T1");  // the first tag in document order
}

TEST(RegistryValidation, LongValuesAreShortenedInMessages) {
  const std::string url = "gopher://" + std::string(500, 'x');
  const std::string msg = add_error(with(kT1 + "/url", url));
  EXPECT_THAT(msg, HasSubstr("... (509 bytes)"));
  EXPECT_LT(msg.size(), 300u);
}

TEST(RegistryValidation, CategoryTableOnlyDocument) {
  Registry r;
  EXPECT_TRUE(r.add_json(R"({"format_version": 1, "categories": {"c": ["a"]}})", "c.json").empty());
  EXPECT_EQ(r.size(), 0u);
  ASSERT_NE(r.find_categories("c"), nullptr);
  EXPECT_EQ(r.category_table_names(), std::vector<std::string>{"c"});
}
