// Per-field merge: a document that names a tag an earlier layer defines
// replaces only the fields it gives (registry/README.md, "Layers and
// overrides"), and the advice a mismatch against a single-source pin carries.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "registry_test_util.h"

using modelzoo::registry::explain_mismatch;
using modelzoo::registry::name_hash_prefix;
using modelzoo::registry::pinned_value_advice;
using modelzoo::registry::Registry;
using modelzoo::registry::WeightsEntry;
using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;

namespace {

const std::string kT1 = "/models/m1/weights/T1";

Registry base() {
  Registry r;
  r.add_json(mzt::valid_doc().dump(), "base.json");
  return r;
}

const WeightsEntry& t1(const Registry& r) { return r.require("m1").require_weights("T1"); }

}  // namespace

TEST(RegistryMerge, UrlAndHashOnlyKeepTheRestOfABuiltinEntry) {
  // googlenet's weights need transform_input: a mirror override must not lose it.
  Registry r = Registry::builtin();
  r.add_json(R"({"format_version": 1, "models": {"googlenet": {"weights": {"IMAGENET1K_V1": {
    "url": "https://mirror.invalid/models/googlenet-1378be20.pth",
    "sha256": "1378be20a8e875cf1568b8c71654a2a9b2ac7c8fb1c5c7f2b6a1f1a3f6e2b111"}}}}})",
             "user.json");
  const WeightsEntry& w = r.require("googlenet").require_weights("IMAGENET1K_V1");
  const Registry builtin = Registry::builtin();
  const WeightsEntry& b = builtin.require("googlenet").require_weights("IMAGENET1K_V1");
  EXPECT_EQ(w.url, "https://mirror.invalid/models/googlenet-1378be20.pth");
  EXPECT_EQ(w.sha256.hex, "1378be20a8e875cf1568b8c71654a2a9b2ac7c8fb1c5c7f2b6a1f1a3f6e2b111");
  EXPECT_EQ(w.meta["arch_options"], (json{{"transform_input", true}, {"init_weights", false}}));
  EXPECT_EQ(w.meta, b.meta);
  EXPECT_EQ(w.categories, b.categories);
  EXPECT_EQ(w.transforms.crop_size, b.transforms.crop_size);
  EXPECT_EQ(w.file_name, "googlenet-1378be20.pth");
  EXPECT_EQ(w.hash_confidence, "") << "the user's own value, not the built-in sources'";
  EXPECT_EQ(r.require("googlenet").origin, "user.json");
}

TEST(RegistryMerge, UrlAloneKeepsHashSizeAndConfidence) {
  Registry r = Registry::builtin();
  r.add_json(R"({"format_version": 1, "models": {"resnet50": {"weights": {"IMAGENET1K_V1": {
    "url": "file:///mnt/usb/resnet50-0676ba61.pth"}}}}})",
             "user.json");
  const WeightsEntry& w = r.require("resnet50").require_weights("IMAGENET1K_V1");
  EXPECT_EQ(w.url, "file:///mnt/usb/resnet50-0676ba61.pth");
  EXPECT_EQ(w.sha256.hex, "0676ba61b6795bbe1773cffd859882e5e297624d384b6993f7c9e683e722fb8a");
  EXPECT_EQ(w.size, 102530333u);
  EXPECT_EQ(w.hash_confidence, "multiple_sources");
  EXPECT_EQ(w.size_confidence, "multiple_sources");
  EXPECT_EQ(w.categories.size(), 1000u);
}

TEST(RegistryMerge, NewHashDropsTheOldSizeUnlessGiven) {
  Registry r = base();
  r.add_json(R"({"format_version": 1, "models": {"m1": {"weights": {"T1": {"sha256_prefix": "0676ba61"}}}}})", "u1");
  EXPECT_TRUE(t1(r).sha256.is_prefix);
  EXPECT_FALSE(t1(r).size.has_value());
  EXPECT_EQ(t1(r).url, "https://example.invalid/models/m1-dcbb9e9d.pth");
  r.add_json(R"({"format_version": 1, "models": {"m1": {"weights": {"T1": {"sha256": ")" + std::string(mzt::kHashA) +
                 R"(", "size": 99, "hash_confidence": "single_source", "size_confidence": "single_source"}}}}})",
             "u2");
  EXPECT_EQ(t1(r).size, 99u);
  EXPECT_EQ(t1(r).hash_confidence, "single_source");
  EXPECT_EQ(t1(r).size_confidence, "single_source");
  r.add_json(R"({"format_version": 1, "models": {"m1": {"weights": {"T1": {"size": 100}}}}})", "u3");
  EXPECT_EQ(t1(r).size, 100u);
  EXPECT_EQ(t1(r).size_confidence, "") << "a new size does not inherit the old one's sources";
  EXPECT_EQ(t1(r).hash_confidence, "single_source");
  r.add_json(R"({"format_version": 1, "models": {"m1": {"weights": {"T1": {"size": null}}}}})", "u4");
  EXPECT_FALSE(t1(r).size.has_value());
}

TEST(RegistryMerge, TransformsAndMetaMergeKeyByKey) {
  Registry r = base();
  r.add_json(R"({"format_version": 1, "models": {"m1": {"weights": {"T1": {
    "transforms": {"crop_size": 200}, "meta": {"recipe": "mine", "key_renames": [["a", "b"]]}}}}}})",
             "user.json");
  const WeightsEntry& w = t1(r);
  EXPECT_EQ(w.transforms.crop_size, 200);
  EXPECT_EQ(w.transforms.resize_size, 256);
  EXPECT_EQ(w.meta["recipe"], "mine");
  EXPECT_EQ(w.meta["key_renames"], json::parse(R"([["a", "b"]])"));
  EXPECT_EQ(w.meta["arch_options"], json({{"aux_logits", true}}));
  EXPECT_EQ(w.meta["num_params"], 10);
  EXPECT_EQ(w.categories, (std::vector<std::string>{"cat", "dog", "bird"}));
  EXPECT_EQ(w.sha256.hex, mzt::kHashA);
}

TEST(RegistryMerge, NewUrlBringsItsFileNameUnlessGiven) {
  Registry r = base();
  r.add_json(R"({"format_version": 1, "models": {"m1": {"weights": {"T2": {"file_name": "kept.pth"}}}}})", "u1");
  EXPECT_EQ(r.require("m1").require_weights("T2").file_name, "kept.pth");
  EXPECT_EQ(r.require("m1").require_weights("T2").url, "http://127.0.0.1/m1-v2.pth");
  r.add_json(R"({"format_version": 1, "models": {"m1": {"weights": {"T2": {"url": "http://h.invalid/x/n.pth",
    "file_name": "given.pth"}}}}})",
             "u2");
  EXPECT_EQ(r.require("m1").require_weights("T2").file_name, "given.pth");
}

TEST(RegistryMerge, NewTagsStillNeedUrlAndHash) {
  Registry r = base();
  EXPECT_EQ(mzt::add_error(r, R"({"format_version": 1, "models": {"m1": {"weights": {"T3": {"sha256_prefix": "abcdef12"}}}}})"),
            "my.json: /models/m1/weights/T3: missing required field \"url\" (the http://, https:// or file:// "
            "address of the weights)");
  EXPECT_EQ(mzt::add_error(r, R"({"format_version": 1, "models": {"m1": {"weights": {"T3": {"url": "http://h.invalid/a.pth"}}}}})"),
            "my.json: /models/m1/weights/T3: missing required field \"sha256\" (64 lowercase hex characters) or "
            "\"sha256_prefix\"");
  EXPECT_EQ(r.require("m1").tags(), (std::vector<std::string>{"T1", "T2"}));
}

TEST(RegistryMerge, ConfidenceIsValidated) {
  EXPECT_EQ(mzt::add_error(mzt::with(kT1 + "/hash_confidence", "sure")),
            "my.json: /models/m1/weights/T1/hash_confidence: expected one of: multiple_sources, single_source, got "
            "\"sure\"");
  EXPECT_EQ(mzt::add_error(mzt::with("/models/m1/weights/T2/hash_confidence", "single_source")),
            "my.json: /models/m1/weights/T2/hash_confidence: a confidence describes a full \"sha256\", not a prefix");
  EXPECT_EQ(mzt::add_error(mzt::with("/models/m1/weights/T2/size_confidence", "single_source")),
            "my.json: /models/m1/weights/T2/size_confidence: a confidence describes a \"size\", and there is none");
  EXPECT_EQ(mzt::add_error(mzt::with(kT1 + "/size_confidence", 2)),
            "my.json: /models/m1/weights/T1/size_confidence: expected a string, got number 2");
}

TEST(RegistryPinAdvice, NameHashPrefixFollowsTorchHub) {
  EXPECT_EQ(name_hash_prefix("vgg11-8a719046.pth"), "8a719046");
  EXPECT_EQ(name_hash_prefix("mnasnet1.0_top1_73.512-f206786ef8.pth"), "f206786ef8");
  EXPECT_EQ(name_hash_prefix("resnet18_fbgemm_16fa66dd.pth"), "");
  EXPECT_EQ(name_hash_prefix("alexnet-owt-7be5be79.pth"), "7be5be79");
}

TEST(RegistryPinAdvice, SingleSourceHashSaysSoAndHowToOverride) {
  WeightsEntry w;
  w.tag = "IMAGENET1K_V1";
  w.url = "https://download.pytorch.org/models/m-0676ba61.pth";
  w.file_name = "m-0676ba61.pth";
  w.sha256 = {mzt::kHashA, false};
  w.hash_confidence = "single_source";
  const std::string matching = mzt::kHashB;  // starts with 0676ba61
  const std::string advice = pinned_value_advice("m", w, matching);
  EXPECT_THAT(advice, HasSubstr("The registry's sha256 for m:IMAGENET1K_V1 rests on a single public source"));
  EXPECT_THAT(advice, HasSubstr("The file does match the hash prefix in its name (0676ba61)"));
  EXPECT_THAT(advice, HasSubstr("It was refused all the same"));
  EXPECT_THAT(advice, HasSubstr("--weights https://download.pytorch.org/models/m-0676ba61.pth --sha256 " + matching));
  EXPECT_THAT(advice, HasSubstr(R"({"format_version": 1, "models": {"m": {"weights": {"IMAGENET1K_V1": {"sha256": ")" +
                                matching + R"("}}}}})"));
  // The advice's registry document is valid and accepts the file.
  const auto start = advice.find("{\"format_version\"");
  const auto end = advice.find("}}}}}", start) + 5;
  Registry r;
  modelzoo::registry::ModelEntry entry;
  entry.name = "m";
  entry.arch = "vgg19";
  entry.default_tag = "IMAGENET1K_V1";
  entry.weights = {w};
  entry.origin = "built-in";
  r.add_entry(entry);
  r.add_json(advice.substr(start, end - start), "user.json");
  EXPECT_TRUE(r.require("m").require_weights("IMAGENET1K_V1").sha256.matches(matching));

  const std::string other(64, 'e');
  EXPECT_THAT(pinned_value_advice("m", w, other), HasSubstr("does not match the hash prefix in its name (0676ba61) either"));
  EXPECT_THAT(pinned_value_advice("m", w), HasSubstr("--sha256 <sha256 of the file>"));
  w.size = 5;
  w.size_confidence = "single_source";
  EXPECT_THAT(pinned_value_advice("m", w), HasSubstr("sha256 and size for m:IMAGENET1K_V1 each rest on a single"));
}

TEST(RegistryPinAdvice, NothingToSayForMultipleSourcesOrPrefixes) {
  WeightsEntry w;
  w.tag = "T";
  w.file_name = "m-0676ba61.pth";
  w.sha256 = {mzt::kHashA, false};
  w.hash_confidence = "multiple_sources";
  EXPECT_EQ(pinned_value_advice("m", w, mzt::kHashB), "");
  w.hash_confidence = "";
  EXPECT_EQ(pinned_value_advice("m", w, mzt::kHashB), "");
  EXPECT_EQ(explain_mismatch("m", w, "sha256 mismatch"), "sha256 mismatch");
}

TEST(RegistryPinAdvice, ExplainMismatchReadsTheDigestFromTheMessage) {
  WeightsEntry w;
  w.tag = "T";
  w.url = "https://h.invalid/m-0676ba61.pth";
  w.file_name = "m-0676ba61.pth";
  w.sha256 = {mzt::kHashA, false};
  w.hash_confidence = "single_source";
  const std::string msg = "sha256 mismatch for m:T: expected " + std::string(mzt::kHashA) + ", got " + mzt::kHashB +
                          "; the download was discarded";
  const std::string out = explain_mismatch("m", w, msg);
  EXPECT_EQ(out.substr(0, msg.size()), msg);
  EXPECT_THAT(out, HasSubstr("does match the hash prefix in its name"));
  EXPECT_THAT(out, HasSubstr("--sha256 " + std::string(mzt::kHashB)));
  EXPECT_THAT(explain_mismatch("m", w, "x exists but does not match (it hashes to " + std::string(mzt::kHashB) + ")"),
              HasSubstr("--sha256 " + std::string(mzt::kHashB)));
  EXPECT_THAT(explain_mismatch("m", w, "size mismatch"), Not(HasSubstr("does match")));
}
