// Inputs the registry fuzz target (fuzz/fuzz_registry.cpp) found: each must be
// refused with a RegistryError naming the document, never another exception.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "modelzoo/error.h"
#include "modelzoo/registry/registry.h"

namespace {

using ::testing::HasSubstr;

TEST(RegistryFuzzFindings, NumberTooLargeForADoubleIsARegistryError) {
  // A number whose exponent overflows a double: nlohmann throws out_of_range,
  // not parse_error, which used to escape as a foreign exception.
  const std::string doc = "7777.77" + std::string(67, '3') + "e3333" + std::string(36, '7') + "}";
  modelzoo::registry::Registry r;
  try {
    r.add_json(doc, "found.json");
    ADD_FAILURE() << "expected RegistryError";
  } catch (const modelzoo::RegistryError& e) {
    EXPECT_THAT(e.what(), HasSubstr("found.json: invalid JSON"));
    EXPECT_THAT(e.what(), HasSubstr("number overflow"));
  }
  // Inside a document too.
  try {
    r.add_json(R"({"format_version": 1e400, "models": {}})", "found2.json");
    ADD_FAILURE() << "expected RegistryError";
  } catch (const modelzoo::RegistryError& e) {
    EXPECT_THAT(e.what(), HasSubstr("found2.json: invalid JSON"));
  }
}

}  // namespace
