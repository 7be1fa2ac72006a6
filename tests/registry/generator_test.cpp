// The committed registry/*.json is exactly what scripts/gen_registry.py
// produces from Debian's torchvision.
#include <cstdio>
#include <string>

#include <gtest/gtest.h>

namespace {
std::string run(const std::string& command, int* status) {
  std::string out;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) {
    *status = -1;
    return out;
  }
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  *status = ::pclose(pipe);
  return out;
}
}  // namespace

TEST(RegistryGenerator, CommittedJsonMatchesGenerator) {
  int status = 0;
  const std::string out =
      run("/usr/bin/python3 '" MZ_SOURCE_DIR "/scripts/gen_registry.py' --check", &status);
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find("registry up to date: 22 files, 106 models, 290 weights entries; 68 full sha256 (15 single-source), "
                     "38 sizes (14 single-source)"),
            std::string::npos)
      << out;
}

// pinned_fields(): which table values become full hashes, sizes and
// confidences, and which rows stop the generator.
TEST(RegistryGenerator, PinnedFieldRules) {
  int status = 0;
  const std::string out = run("/usr/bin/python3 '" MZ_SOURCE_DIR "/tests/registry/gen_registry_rules.py'", &status);
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find("ok"), std::string::npos) << out;
}
