// The model-level `task` field: default, accepted values, refusal of unknown
// ones with the JSON path, and its merge across layers.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "modelzoo/registry/registry.h"
#include "registry_test_util.h"

namespace {

using modelzoo::registry::Registry;
using ::testing::AllOf;
using ::testing::HasSubstr;

TEST(RegistryTask, DefaultsToClassificationAndKeepsEveryKnownTask) {
  Registry r;
  r.add_json(mzt::valid_doc().dump(), "my.json");
  EXPECT_EQ(r.require("m1").task, "classification");
  for (const char* task : modelzoo::registry::kTasks) {
    auto doc = mzt::valid_doc();
    doc["models"]["m1"]["task"] = task;
    Registry t;
    t.add_json(doc.dump(), "t.json");
    EXPECT_EQ(t.require("m1").task, task);
  }
}

TEST(RegistryTask, UnknownTaskIsRefusedWithItsPath) {
  auto doc = mzt::valid_doc();
  doc["models"]["m1"]["task"] = "detect";
  Registry r;
  EXPECT_THAT(mzt::add_error(r, doc.dump()),
              AllOf(HasSubstr("my.json"), HasSubstr("/models/m1/task"), HasSubstr("\"detection\""),
                    HasSubstr("\"detect\"")));
  EXPECT_EQ(r.size(), 0u);
  doc["models"]["m1"]["task"] = 3;
  EXPECT_THAT(mzt::add_error(r, doc.dump()), HasSubstr("/models/m1/task"));
}

TEST(RegistryTask, LaterLayerKeepsTheTaskUnlessItNamesOne) {
  auto doc = mzt::valid_doc();
  doc["models"]["m1"]["task"] = "segmentation";
  Registry r;
  r.add_json(doc.dump(), "base.json");
  r.add_json(R"({"format_version": 1, "models": {"m1": {"default": "T2"}}})", "over.json");
  EXPECT_EQ(r.require("m1").task, "segmentation");
  r.add_json(R"({"format_version": 1, "models": {"m1": {"task": "video"}}})", "over2.json");
  EXPECT_EQ(r.require("m1").task, "video");
}

}  // namespace
