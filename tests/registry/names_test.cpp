// Small helpers: hash specs, file-name safety, name suggestions.
#include <gtest/gtest.h>

#include "registry_test_util.h"

using modelzoo::registry::HashSpec;
using modelzoo::registry::is_safe_file_name;
using modelzoo::registry::suggest_names;

TEST(RegistryNames, FullHashMatchesOnlyItself) {
  HashSpec h{mzt::kHashA, false};
  EXPECT_TRUE(h.matches(mzt::kHashA));
  std::string upper = mzt::kHashA;
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_TRUE(h.matches(upper));
  EXPECT_FALSE(h.matches(mzt::kHashB));
  std::string one_off = mzt::kHashA;
  one_off.back() = '5';
  EXPECT_FALSE(h.matches(one_off));
  EXPECT_FALSE(h.matches(std::string(mzt::kHashA).substr(0, 63)));
}

TEST(RegistryNames, PrefixHashMatchesDigestsStartingWithIt) {
  HashSpec h{"dcbb9e9d", true};
  EXPECT_TRUE(h.matches(mzt::kHashA));
  EXPECT_FALSE(h.matches(mzt::kHashB));
  EXPECT_FALSE(h.matches("dcbb9e9d"));  // the argument must be a whole digest
  std::string not_hex = mzt::kHashA;
  not_hex[40] = 'z';
  EXPECT_FALSE(h.matches(not_hex));
}

TEST(RegistryNames, EmptySpecMatchesNothing) {
  HashSpec h;
  EXPECT_TRUE(h.empty());
  EXPECT_FALSE(h.matches(mzt::kHashA));
}

TEST(RegistryNames, SafeFileNames) {
  EXPECT_TRUE(is_safe_file_name("vgg19-dcbb9e9d.pth"));
  EXPECT_TRUE(is_safe_file_name("mnasnet0.5_top1_67.823-3ffadce67e.pth"));
  EXPECT_FALSE(is_safe_file_name(""));
  EXPECT_FALSE(is_safe_file_name("."));
  EXPECT_FALSE(is_safe_file_name(".."));
  EXPECT_FALSE(is_safe_file_name("a..b"));
  EXPECT_FALSE(is_safe_file_name("a/b"));
  EXPECT_FALSE(is_safe_file_name("a\\b"));
  EXPECT_FALSE(is_safe_file_name("a\tb"));
  EXPECT_FALSE(is_safe_file_name(std::string("a\0b", 3)));
  EXPECT_FALSE(is_safe_file_name("a\x7f"));
  EXPECT_TRUE(is_safe_file_name(std::string(255, 'a')));
  EXPECT_FALSE(is_safe_file_name(std::string(256, 'a')));
}

TEST(RegistryNames, Suggestions) {
  const std::vector<std::string> names = {"vgg11", "vgg19", "vgg19_bn", "resnet18", "resnet50"};
  EXPECT_EQ(suggest_names("vgg91", names, 1), std::vector<std::string>{"vgg19"});
  EXPECT_EQ(suggest_names("VGG19", names, 1), std::vector<std::string>{"vgg19"});
  EXPECT_EQ(suggest_names("resnet", names), (std::vector<std::string>{"resnet18", "resnet50"}));
  EXPECT_TRUE(suggest_names("xyz", names).empty());
  EXPECT_EQ(suggest_names("vgg1", names, 2).size(), 2u);
}
