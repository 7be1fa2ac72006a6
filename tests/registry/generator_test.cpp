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
  EXPECT_NE(out.find("registry up to date: 20 files, 94 models, 135 weights entries"), std::string::npos) << out;
}
