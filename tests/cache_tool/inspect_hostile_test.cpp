// cache_tool inspect on hostile files built here: shared structure is listed
// once (a few hundred bytes that expand to 2^60 leaves print 60 lines), and
// the io stage's refusals reach the user as errors naming the file.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>

#include "cache_tool/tool_util.h"
#include "io/zip.h"

namespace ct_test {
namespace {

using ::testing::HasSubstr;

std::string u32(uint32_t v) {
  std::string s;
  for (int i = 0; i < 4; ++i) s += static_cast<char>((v >> (8 * i)) & 0xFF);
  return s;
}
std::string u64(uint64_t v) { return u32(static_cast<uint32_t>(v)) + u32(static_cast<uint32_t>(v >> 32)); }
const std::string kProto2("\x80\x02", 2);

// A torch.save zip archive holding `pickle` as archive/data.pkl.
std::string zip_of(const std::string& pickle) {
  char* buf = nullptr;
  size_t len = 0;
  std::FILE* f = open_memstream(&buf, &len);
  {
    modelzoo::io::detail::ZipWriter zip(f, "memory");
    zip.add("archive/data.pkl", pickle.data(), pickle.size());
    zip.finish();
  }
  std::fclose(f);
  std::string out(buf, len);
  std::free(buf);
  return out;
}

TEST(CacheToolInspectHostile, BillionLaughsPrintsSharedStructureOnce) {
  Sandbox sb;
  // {'laughs': 60 nested (x, x) pairs of None}: 2^60 leaves if expanded.
  std::string p = kProto2 + "}" + "X" + u32(6) + "laughs" + "N";
  for (int i = 0; i < 60; ++i) p += std::string("q\x00h\x00\x86", 5);
  p += "s.";
  const fs::path file = sb.dir() / "laughs.pt";
  write_file(file, zip_of(p));
  ASSERT_LT(fs::file_size(file), 1024u);
  const ToolRun r = sb.tool({"--json", "inspect", file.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json doc = r.doc();
  std::size_t shared = 0, none = 0;
  for (const auto& v : doc["values"]) {
    if (v["kind"] == "shared") ++shared;
    if (v["kind"] == "none") ++none;
  }
  EXPECT_EQ(shared, 59u);  // each level's second item is its first
  EXPECT_EQ(none, 2u);     // the innermost pair: None twice (scalars are not shared objects)
  EXPECT_EQ(doc["values"].size(), 61u);
  EXPECT_EQ(doc["values"].back()["name"], "laughs/1");
  EXPECT_EQ(doc["values"].back()["value"], "same tuple as laughs/0");
  const ToolRun text = sb.tool({"inspect", file.string()});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_THAT(text.out, HasSubstr("same tuple as laughs/0/0"));
  EXPECT_LT(text.out.size(), 64u * 1024);
}

TEST(CacheToolInspectHostile, RefusalsNameTheFileAndTheDamage) {
  Sandbox sb;
  // A safetensors shape nested 200,000 deep.
  std::string h = R"({"a":{"dtype":"F32","shape":)" + std::string(200000, '[') + std::string(200000, ']') +
                  R"(,"data_offsets":[0,0]}})";
  const fs::path deep = sb.dir() / "deep.safetensors";
  write_file(deep, u64(h.size()) + h);
  const ToolRun r1 = sb.tool({"inspect", deep.string()});
  EXPECT_EQ(r1.exit_code, 1);
  EXPECT_THAT(r1.err, HasSubstr(deep.string()));
  EXPECT_THAT(r1.err, HasSubstr("nests JSON more than 3 levels deep"));
  // Two data.pkl records, the second calling os.system.
  char* buf = nullptr;
  size_t len = 0;
  std::FILE* f = open_memstream(&buf, &len);
  {
    modelzoo::io::detail::ZipWriter zip(f, "memory");
    const std::string benign = kProto2 + "}.";
    const std::string evil = kProto2 + "cos\nsystem\n" + "X" + u32(4) + "true" + "\x85R.";
    zip.add("archive/data.pkl", benign.data(), benign.size());
    zip.add("archive/data.pkl", evil.data(), evil.size());
    zip.finish();
  }
  std::fclose(f);
  const fs::path twice = sb.dir() / "twice.pt";
  write_file(twice, std::string(buf, len));
  std::free(buf);
  const ToolRun r2 = sb.tool({"--json", "inspect", twice.string()});
  EXPECT_EQ(r2.exit_code, 1);
  EXPECT_EQ(r2.doc()["ok"], false);
  EXPECT_THAT(r2.doc().dump(), HasSubstr("two records named 'archive/data.pkl'"));
}

}  // namespace
}  // namespace ct_test
