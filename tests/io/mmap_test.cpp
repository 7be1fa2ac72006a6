// Zero-copy reads: with ReadOptions::mmap, aligned tensors alias a private
// mapping of the file; writing to them never changes the file.

#include <gtest/gtest.h>

#include <ATen/ops/arange.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "io/source.h"
#include "io_test_util.h"
#include "modelzoo/io/io.h"
#include "support/process.h"

namespace {

namespace fs = std::filesystem;
namespace io = modelzoo::io;

// Whether `p` lies in a mapping of `file` (per /proc/self/maps).
bool mapped_from(const void* p, const fs::path& file) {
  std::ifstream maps("/proc/self/maps");
  const auto addr = reinterpret_cast<uintptr_t>(p);
  const std::string want = fs::canonical(file).string();
  std::string line;
  while (std::getline(maps, line)) {
    std::istringstream in(line);
    std::string range, perms, offset, dev, inode, path;
    in >> range >> perms >> offset >> dev >> inode;
    std::getline(in, path);
    path.erase(0, path.find_first_not_of(' '));
    const auto dash = range.find('-');
    const uintptr_t lo = std::stoull(range.substr(0, dash), nullptr, 16);
    const uintptr_t hi = std::stoull(range.substr(dash + 1), nullptr, 16);
    if (addr >= lo && addr < hi) return path == want;
  }
  return false;
}

io::StateDict sample() {
  io::StateDict sd;
  sd.insert("a", at::arange(64).to(c10::ScalarType::Float).reshape({8, 8}));
  sd.insert("b", at::arange(10).to(c10::ScalarType::Long));
  return sd;
}

void expect_aliasing(const fs::path& file) {
  const std::string before = io_test::read_bytes(file);
  io::StateDict sd = io::read_state_dict(file, io::ReadOptions{c10::kCPU, true});
  for (const auto& item : sd) {
    EXPECT_TRUE(mapped_from(item.value().data_ptr(), file)) << item.key() << " was copied";
  }
  // Write through the mapping: visible to this tensor, invisible in the file.
  at::Tensor a = sd["a"];
  a.fill_(-1.0);
  EXPECT_EQ(a.sum().item<double>(), -64.0);
  EXPECT_EQ(io_test::read_bytes(file), before);
  io::StateDict fresh = io::read_state_dict(file, io::ReadOptions{c10::kCPU, false});
  EXPECT_EQ(fresh["a"].sum().item<double>(), 63.0 * 64.0 / 2.0);
  // The mapping outlives the reader: only tensors hold it now.
  sd = io::StateDict();
  EXPECT_EQ(a.sum().item<double>(), -64.0);
}

TEST(Mmap, ZipTensorsAliasThePrivateMapping) {
  mz_test::TempDir dir("mz_io_mmap_");
  io::write_state_dict(dir / "sd.pth", sample());
  expect_aliasing(dir / "sd.pth");
}

TEST(Mmap, SafetensorsTensorsAliasThePrivateMapping) {
  mz_test::TempDir dir("mz_io_mmap_");
  io::write_state_dict(dir / "sd.safetensors", sample(), io::WriteOptions{io::Format::Safetensors});
  expect_aliasing(dir / "sd.safetensors");
}

TEST(Mmap, WithoutMmapTensorsOwnTheirMemory) {
  mz_test::TempDir dir("mz_io_mmap_");
  io::write_state_dict(dir / "sd.pth", sample());
  io::StateDict sd = io::read_state_dict(dir / "sd.pth", io::ReadOptions{c10::kCPU, false});
  for (const auto& item : sd) EXPECT_FALSE(mapped_from(item.value().data_ptr(), dir / "sd.pth")) << item.key();
}

TEST(Mmap, LegacyTensorsAreAlignedForTheirDtype) {
  // Legacy storages follow an 8-byte count at arbitrary offsets; a storage
  // at an offset not divisible by its element size is copied, not aliased.
  // legacy_sd.pt (tests/oracle/io_make.py): one tensor of every dtype, 1 to 16 bytes each.
  const fs::path dir = fs::path(MZ_BINARY_DIR) / "test_fixtures" / "io_from_python";
  mz_test::cached_fixture(dir, fs::path(MZ_SOURCE_DIR) / "tests" / "oracle" / "io_make.py", "");
  const fs::path file = dir / "legacy_sd.pt";
  ASSERT_EQ(io::detect_format(file), io::Format::Legacy);
  io::StateDict mapped = io::read_state_dict(file, io::ReadOptions{c10::kCPU, true});
  io::StateDict copied = io::read_state_dict(file, io::ReadOptions{c10::kCPU, false});
  std::set<int64_t> element_sizes;
  std::size_t aliased = 0;
  for (const auto& item : mapped) {
    const at::Tensor& t = item.value();
    if (t.numel() == 0) continue;
    element_sizes.insert(static_cast<int64_t>(t.element_size()));
    const auto addr = reinterpret_cast<uintptr_t>(t.data_ptr());
    EXPECT_EQ(addr % t.element_size(), 0u) << item.key() << " is misaligned";
    EXPECT_TRUE(t.equal(copied[item.key()])) << item.key();
    aliased += mapped_from(t.data_ptr(), file);
  }
  EXPECT_EQ(element_sizes, (std::set<int64_t>{1, 2, 4, 8, 16}));
  EXPECT_GT(aliased, 0u) << "aligned storages alias the mapping";
}

TEST(Mmap, ViewsShareOneStorageAfterReading) {
  mz_test::TempDir dir("mz_io_mmap_");
  at::Tensor base = at::arange(24).to(c10::ScalarType::Float).reshape({4, 6});
  io::StateDict sd;
  sd.insert("base", base);
  sd.insert("rows", base.slice(0, 1, 3));
  sd.insert("cols_t", base.slice(1, 0, 6, 2).t());
  io::write_state_dict(dir / "views.pth", sd);
  for (bool mmap : {true, false}) {
    io::StateDict back = io::read_state_dict(dir / "views.pth", io::ReadOptions{c10::kCPU, mmap});
    EXPECT_TRUE(back["rows"].storage().is_alias_of(back["base"].storage()));
    EXPECT_TRUE(back["cols_t"].storage().is_alias_of(back["base"].storage()));
    EXPECT_EQ(back["rows"].storage_offset(), 6);
    EXPECT_EQ(back["cols_t"].strides().vec(), (std::vector<int64_t>{2, 6}));
    EXPECT_TRUE(back["cols_t"].equal(sd["cols_t"]));
    back["base"].fill_(0);
    EXPECT_EQ(back["rows"].sum().item<double>(), 0.0);  // one memory, not copies
  }
}

}  // namespace

namespace {

// Resident set size (kB) of the mapping that contains `p`, per /proc/self/smaps.
long mapping_rss_kb(const void* p) {
  std::ifstream smaps("/proc/self/smaps");
  const auto addr = reinterpret_cast<uintptr_t>(p);
  std::string line;
  bool inside = false;
  while (std::getline(smaps, line)) {
    const auto dash = line.find('-');
    const auto space = line.find(' ');
    if (dash != std::string::npos && space != std::string::npos && dash < space &&
        line.find_first_not_of("0123456789abcdef") == dash) {
      const uintptr_t lo = std::stoull(line.substr(0, dash), nullptr, 16);
      const uintptr_t hi = std::stoull(line.substr(dash + 1, space - dash - 1), nullptr, 16);
      inside = addr >= lo && addr < hi;
    } else if (inside && line.rfind("Rss:", 0) == 0) {
      return std::stol(line.substr(4));
    }
  }
  return -1;
}

}  // namespace

// A storage that cannot alias the mapping (misaligned for its dtype, as in
// most legacy files) is copied with pread: the mapped pages are not faulted
// in, so the copy is the only memory it costs.
TEST(Mmap, MisalignedStorageCopiesLeaveTheMappingUntouched) {
  mz_test::TempDir dir("mz_io_mmap_");
  const fs::path file = dir / "blob.bin";
  constexpr std::size_t kFloats = 1 << 20;  // 4 MiB
  {
    std::string bytes(2 + kFloats * sizeof(float), '\0');
    for (std::size_t i = 0; i < kFloats; ++i) {
      const float v = static_cast<float>(i);
      std::memcpy(&bytes[2 + i * sizeof(float)], &v, sizeof v);
    }
    std::ofstream(file, std::ios::binary) << bytes;
  }
  const auto src = modelzoo::io::detail::map_file(file);
  const at::Tensor t = modelzoo::io::detail::load_storage(src, 2, kFloats * sizeof(float),
                                                          c10::ScalarType::Float, false, true);
  EXPECT_NE(t.data_ptr(), static_cast<const void*>(src->data() + 2));  // a copy
  EXPECT_EQ(t[12345].item<float>(), 12345.0f);
  EXPECT_EQ(t[kFloats - 1].item<float>(), static_cast<float>(kFloats - 1));
  const long rss = mapping_rss_kb(src->data());
  ASSERT_GE(rss, 0) << "mapping not found in /proc/self/smaps";
  EXPECT_LT(rss, 64) << "kB of the mapping resident after copying 4 MiB out of it";
}
