#include <gtest/gtest.h>
#include <gmock/gmock.h>

#include <functional>
#include <string>

#include "modelzoo/error.h"
#include "modelzoo/hub/request.h"

namespace {

using modelzoo::Weights;
using ::testing::HasSubstr;

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const modelzoo::Error& e) {
    return e.what();
  }
  return "";
}

const std::string kHex(64, 'a');

TEST(ModelRequest, NamesTagsAndSources) {
  auto [n1, w1] = modelzoo::parse_model_request("resnet50", "", "");
  EXPECT_EQ(n1, "resnet50");
  EXPECT_EQ(w1.kind(), Weights::Kind::Default);
  auto [n2, w2] = modelzoo::parse_model_request("resnet50:IMAGENET1K_V2", "", "");
  EXPECT_EQ(n2, "resnet50");
  EXPECT_EQ(w2.kind(), Weights::Kind::Tag);
  EXPECT_EQ(w2.value(), "IMAGENET1K_V2");
  // A URL takes its hash from --sha256 or from its fragment, as every CLI does.
  EXPECT_EQ(modelzoo::parse_model_request("vgg19", "http://127.0.0.1/w.pth", kHex).second.kind(), Weights::Kind::Url);
  const auto frag = modelzoo::parse_model_request("vgg19", "http://127.0.0.1/w.pth#sha256=" + kHex, "").second;
  EXPECT_EQ(frag.kind(), Weights::Kind::Url);
  EXPECT_EQ(frag.sha256(), kHex);
  EXPECT_EQ(modelzoo::parse_model_request("vgg19", "/data/w.pth", "").second.kind(), Weights::Kind::File);
}

TEST(ModelRequest, ConflictsNameTheOption) {
  EXPECT_THAT(error_of([] { modelzoo::parse_model_request("resnet50:", "", ""); }), HasSubstr("--model"));
  EXPECT_THAT(error_of([] { modelzoo::parse_model_request("resnet50:V2", "/w.pth", ""); }), HasSubstr("names a tag"));
  EXPECT_THAT(error_of([] { modelzoo::parse_model_request("resnet50", "", kHex); }), HasSubstr("--sha256 is for"));
  EXPECT_THAT(error_of([] { modelzoo::parse_model_request("vgg19", "https://127.0.0.1/w.pth", ""); }),
              HasSubstr("a URL needs its SHA-256"));
  EXPECT_THAT(error_of([] { modelzoo::parse_model_request("vgg19", "https://127.0.0.1/w.pth#sha256=" + kHex, kHex); }),
              HasSubstr("use one"));
  EXPECT_THAT(error_of([] { modelzoo::parse_model_request("vgg19", "https://127.0.0.1/w.pth", "xyz"); }),
              HasSubstr("--weights"));
}

}  // namespace
