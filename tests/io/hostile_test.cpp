// Damaged and malicious files, built here byte by byte, one case per kind of
// damage; each must be refused with its own message and nothing may run.

#include <gtest/gtest.h>

#include <ATen/ops/arange.h>

#include <cstdio>
#include <filesystem>
#include <functional>

#include "io/zip.h"
#include "io_test_util.h"
#include "modelzoo/error.h"
#include "modelzoo/io/io.h"
#include "modelzoo/io/unpickler.h"
#include "support/process.h"

namespace {

namespace fs = std::filesystem;
namespace io = modelzoo::io;
using io_test::Value;

// --- tiny pickle assembler -------------------------------------------------
std::string u32(uint32_t v) {
  std::string s;
  for (int i = 0; i < 4; ++i) s += static_cast<char>((v >> (8 * i)) & 0xFF);
  return s;
}
std::string u64(uint64_t v) {
  std::string s;
  for (int i = 0; i < 8; ++i) s += static_cast<char>((v >> (8 * i)) & 0xFF);
  return s;
}
std::string unicode(const std::string& s) { return "X" + u32(static_cast<uint32_t>(s.size())) + s; }
std::string global(const std::string& module, const std::string& name) { return "c" + module + "\n" + name + "\n"; }
std::string long8(int64_t v) { return std::string("\x8a\x08", 2) + u64(static_cast<uint64_t>(v)); }
const std::string kProto2("\x80\x02", 2);

// A string literal's bytes, embedded NULs included.
template <std::size_t N>
std::string B(const char (&s)[N]) {
  return std::string(s, N - 1);
}

// A payload that would create `marker` if anything executed it.
std::string touch_command(const fs::path& marker) { return "touch " + marker.string(); }

// A zip archive holding `pickle` as archive/data.pkl plus extra records.
std::string zip_with(const std::string& pickle, const std::vector<std::pair<std::string, std::string>>& extra = {}) {
  char* buf = nullptr;
  size_t len = 0;
  std::FILE* f = open_memstream(&buf, &len);
  {
    io::detail::ZipWriter zip(f, "memory");
    zip.add("archive/data.pkl", pickle.data(), pickle.size());
    for (const auto& [name, data] : extra) zip.add(name, data.data(), data.size());
    zip.finish();
  }
  std::fclose(f);
  std::string out(buf, len);
  std::free(buf);
  return out;
}

// The legacy preamble: magic number, protocol 1001, sys_info.
std::string legacy_preamble(bool little_endian = true) {
  std::string s = kProto2 + std::string("\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19", 12) + ".";
  s += kProto2 + "M" + std::string("\xe9\x03", 2) + ".";
  s += kProto2 + "}(" + unicode("little_endian") + (little_endian ? "\x88" : "\x89") + "u.";
  return s;
}

// (storage, torch.FloatStorage, key, 'cpu', numel) BINPERSID, then _rebuild_tensor_v2 of a 1-D tensor.
std::string tensor_pickle(const std::string& key, int64_t numel, int64_t size, int64_t offset = 0) {
  std::string s = global("torch._utils", "_rebuild_tensor_v2") + "(";
  s += "(" + unicode("storage") + global("torch", "FloatStorage") + unicode(key) + unicode("cpu") + long8(numel) + "tQ";
  s += long8(offset) + long8(size) + "\x85" + "K\x01\x85" + "\x89" + global("collections", "OrderedDict") + ")R" + "tR";
  return s;
}

class Hostile : public ::testing::Test {
 protected:
  mz_test::TempDir dir_{"mz_io_bad_"};
  fs::path marker_ = dir_ / "executed";

  fs::path put(const std::string& name, const std::string& bytes) {
    fs::path p = dir_ / name;
    io_test::write_bytes(p, bytes);
    return p;
  }

  // Reads `file` (mmap and not), expecting exception E whose message has every one of `parts`.
  template <typename E>
  void refused(const fs::path& file, const std::vector<std::string>& parts) {
    for (bool mmap : {true, false}) {
      io::ReadOptions opt;
      opt.mmap = mmap;
      try {
        io::read(file, opt);
        ADD_FAILURE() << file << ": expected an error containing '" << parts.front() << "'";
      } catch (const E& e) {
        const std::string msg = e.what();
        for (const auto& part : parts) EXPECT_NE(msg.find(part), std::string::npos) << "'" << part << "' not in: " << msg;
        EXPECT_NE(msg.find(file.string()), std::string::npos) << "file not named in: " << msg;
      } catch (const std::exception& e) {
        ADD_FAILURE() << file << ": wrong exception type: " << e.what();
      }
    }
    EXPECT_FALSE(fs::exists(marker_)) << "a payload ran";
  }
};

TEST_F(Hostile, OsSystemGlobalIsRefusedBeforeAnythingRuns) {
  std::string p = kProto2 + global("os", "system") + unicode(touch_command(marker_)) + "\x85R.";
  refused<modelzoo::UnsafePickleError>(put("os_system.pt", zip_with(p)), {"'os.system'", "nothing was executed"});
}

TEST_F(Hostile, PosixSystemViaStackGlobalIsRefused) {
  std::string p = std::string("\x80\x04", 2) + "\x8c\x05posix" + "\x8c\x06system" + "\x93" +
                  unicode(touch_command(marker_)) + "\x85R.";
  refused<modelzoo::UnsafePickleError>(put("posix.pt", zip_with(p)), {"'posix.system'"});
}

TEST_F(Hostile, BuiltinsEvalIsRefused) {
  std::string p = kProto2 + global("builtins", "eval") +
                  unicode("__import__('os').system('" + touch_command(marker_) + "')") + "\x85R.";
  refused<modelzoo::UnsafePickleError>(put("eval.pt", zip_with(p)), {"'builtins.eval'"});
}

TEST_F(Hostile, SubprocessIsRefusedInLegacyFilesToo) {
  std::string p = kProto2 + global("subprocess", "check_call") + "(" + unicode("touch") +
                  unicode(marker_.string()) + "l\x85R.";
  refused<modelzoo::UnsafePickleError>(put("subprocess.pt", legacy_preamble() + p), {"'subprocess.check_call'"});
}

TEST_F(Hostile, PickledModuleClassIsRefusedByName) {
  std::string p = kProto2 + global("torch.nn.modules.linear", "Linear") + ")\x81}b.";
  refused<modelzoo::UnsafePickleError>(put("module.pt", zip_with(p)), {"'torch.nn.modules.linear.Linear'"});
}

TEST_F(Hostile, LoadFromBytesIsNotAllowlisted) {
  std::string p = kProto2 + global("torch.storage", "_load_from_bytes") + "C\x01x\x85R.";
  refused<modelzoo::UnsafePickleError>(put("from_bytes.pt", zip_with(p)), {"'torch.storage._load_from_bytes'"});
}

TEST_F(Hostile, ReduceOnANonCallableIsRefused) {
  // A str cannot be called even if it names an allowed global.
  std::string p = kProto2 + unicode("collections.OrderedDict") + ")R.";
  refused<modelzoo::FormatError>(put("reduce_str.pt", zip_with(p)), {"REDUCE", "allowlisted global"});
}

TEST_F(Hostile, TruncatedZipIsRefused) {
  std::string good = zip_with(kProto2 + "}.");
  refused<modelzoo::FormatError>(put("truncated.pt", good.substr(0, good.size() - 30)),
                                 {"no end-of-central-directory record"});
}

TEST_F(Hostile, ZipEntryPointingPastTheFileIsRefused) {
  std::string z = zip_with(kProto2 + "}.");
  // Corrupt the central directory's local-header offset of the only entry.
  std::size_t cd = z.find(std::string("PK\x01\x02", 4));
  ASSERT_NE(cd, std::string::npos);
  z.replace(cd + 42, 4, u32(0x7FFFFFF0));
  refused<modelzoo::FormatError>(put("bad_offset.pt", z), {"local header of zip entry 'archive/data.pkl'"});
}

TEST_F(Hostile, TruncatedLegacyStorageIsRefused) {
  std::string p = kProto2 + "}(" + unicode("w") + tensor_pickle("0", 4, 4) + "u.";
  std::string keys = kProto2 + "(" + unicode("0") + "l.";
  std::string file = legacy_preamble() + p + keys + u64(4) + std::string(10, '\0');  // 16 bytes needed
  refused<modelzoo::FormatError>(put("legacy_trunc.pt", file), {"storage '0'", "4 elements of float32"});
}

TEST_F(Hostile, LegacyStorageCountDisagreeingWithPickleIsRefused) {
  std::string p = kProto2 + "}(" + unicode("w") + tensor_pickle("0", 4, 4) + "u.";
  std::string keys = kProto2 + "(" + unicode("0") + "l.";
  std::string file = legacy_preamble() + p + keys + u64(3) + std::string(12, '\0');
  refused<modelzoo::FormatError>(put("legacy_count.pt", file), {"has 3 elements but the pickle declared 4"});
}

TEST_F(Hostile, AbsurdNumelIsRefusedBeforeAllocating) {
  const int64_t huge = 1000000000000000;  // 10^15 floats = 4 PB
  std::string p = kProto2 + "}(" + unicode("w") + tensor_pickle("0", huge, 4) + "u.";
  refused<modelzoo::FormatError>(put("absurd_zip.pt", zip_with(p, {{"archive/data/0", std::string(16, '\0')}})),
                                 {"storage '0'", "1000000000000000 elements", "holds 16 bytes"});
  std::string keys = kProto2 + "(" + unicode("0") + "l.";
  refused<modelzoo::FormatError>(put("absurd_legacy.pt", legacy_preamble() + p + keys + u64(huge)),
                                 {"storage '0'", "1000000000000000 elements"});
}

TEST_F(Hostile, TensorReachingPastItsStorageIsRefused) {
  std::string p = kProto2 + "}(" + unicode("w") + tensor_pickle("0", 4, 4, /*offset=*/2) + "u.";
  refused<modelzoo::FormatError>(put("past_storage.pt", zip_with(p, {{"archive/data/0", std::string(16, '\0')}})),
                                 {"reaches past its storage of 4 elements"});
}

TEST_F(Hostile, TensorWithOverflowingElementCountIsRefused) {
  // Size (2^62, 2^62) with zero strides fits a 4-element storage but not int64.
  std::string t = global("torch._utils", "_rebuild_tensor_v2") + "(";
  t += "(" + unicode("storage") + global("torch", "FloatStorage") + unicode("0") + unicode("cpu") + long8(4) + "tQ";
  t += long8(0) + long8(int64_t{1} << 62) + long8(int64_t{1} << 62) + "\x86" + B("K\x00K\x00\x86") + "\x89" +
       global("collections", "OrderedDict") + ")R" + "tR";
  std::string p = kProto2 + "}(" + unicode("w") + t + "u.";
  refused<modelzoo::FormatError>(put("overflow.pt", zip_with(p, {{"archive/data/0", std::string(16, '\0')}})),
                                 {"more than 2^63 elements"});
}

TEST_F(Hostile, MissingStorageRecordIsRefused) {
  std::string p = kProto2 + "}(" + unicode("w") + tensor_pickle("7", 4, 4) + "u.";
  refused<modelzoo::FormatError>(put("no_record.pt", zip_with(p)), {"storage '7' has no record archive/data/7"});
}

TEST_F(Hostile, SafetensorsHeaderLongerThanFileIsRefused) {
  std::string h = "{}";
  refused<modelzoo::FormatError>(put("long_header.safetensors", u64(5000) + h + std::string(100, ' ')),
                                 {"header length 5000 exceeds the file size (110 bytes)"});
  // Detected as safetensors (a '{' after the length) but the length is absurd.
  std::string big = u64(uint64_t{1} << 40) + "{" + std::string(20, ' ');
  EXPECT_EQ(io::detect_format(put("huge_header.safetensors", big)), io::Format::Unknown);
}

TEST_F(Hostile, SafetensorsOverlappingOffsetsAreRefused) {
  std::string h = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})";
  while ((8 + h.size()) % 8) h += ' ';
  refused<modelzoo::FormatError>(put("overlap.safetensors", u64(h.size()) + h + std::string(12, '\0')),
                                 {"tensor 'b'", "overlap"});
}

TEST_F(Hostile, SafetensorsOutOfBoundsOffsetsAreRefused) {
  std::string h = R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})";
  refused<modelzoo::FormatError>(put("oob.safetensors", u64(h.size()) + h + std::string(8, '\0')),
                                 {"tensor 'a'", "outside the 8 data bytes"});
}

TEST_F(Hostile, SafetensorsShapeNotMatchingBytesIsRefused) {
  std::string h = R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})";
  refused<modelzoo::FormatError>(put("shape.safetensors", u64(h.size()) + h + std::string(8, '\0')),
                                 {"tensor 'a'", "needs 12 bytes but its data_offsets span 8"});
}

TEST_F(Hostile, SafetensorsGapIsRefused) {
  std::string h = R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})";
  refused<modelzoo::FormatError>(put("gap.safetensors", u64(h.size()) + h + std::string(8, '\0')),
                                 {"tensor 'a'", "gap in the data"});
}

TEST_F(Hostile, SafetensorsU64AboveInt64IsRefused) {
  std::string h = R"({"a":{"dtype":"U64","shape":[1],"data_offsets":[0,8]}})";
  refused<modelzoo::FormatError>(put("u64.safetensors", u64(h.size()) + h + u64(~uint64_t{0})),
                                 {"tensor 'a'", "18446744073709551615", "does not fit int64"});
}

TEST_F(Hostile, BadMagicIsRefused) {
  refused<modelzoo::FormatError>(put("garbage.pt", "this is not a weight file at all"), {"unknown weight file format"});
  refused<modelzoo::FormatError>(put("empty.pt", ""), {"unknown weight file format"});
}

TEST_F(Hostile, MemoIndexOutOfRangeIsRefused) {
  refused<modelzoo::FormatError>(put("memo.pt", zip_with(kProto2 + B("}q\x00h\x05."))),
                                 {"memo index 5 is not defined", "BINGET"});
}

TEST_F(Hostile, UnknownOpcodeIsRefused) {
  refused<modelzoo::FormatError>(put("opcode.pt", zip_with(kProto2 + "\xff.")), {"unknown opcode 0xff"});
}

TEST_F(Hostile, StackUnderflowIsRefused) {
  refused<modelzoo::FormatError>(put("underflow.pt", zip_with(kProto2 + "R.")), {"stack underflow", "REDUCE"});
  refused<modelzoo::FormatError>(put("nomark.pt", zip_with(kProto2 + "K\x01t.")), {"no MARK"});
}

TEST_F(Hostile, PickleWithoutStopIsRefused) {
  refused<modelzoo::FormatError>(put("nostop.pt", zip_with(kProto2 + "}")), {"no STOP opcode"});
}

TEST_F(Hostile, StringLengthBeyondPickleIsRefused) {
  refused<modelzoo::FormatError>(put("strlen.pt", zip_with(kProto2 + "X" + u32(0xFFFFFFF0) + "ab.")),
                                 {"length 4294967280 exceeds"});
}

TEST_F(Hostile, NothingIsLeftWhenAWriteFails) {
  // An undefined tensor aborts the write after part of it was written; no file, no temp file.
  Value v = Value::dict();
  v.set("w", at::arange(4));
  v.set("undefined", at::Tensor());
  const fs::path target = dir_ / "out.pth";
  EXPECT_THROW(io::write(target, v), modelzoo::FormatError);
  EXPECT_THROW(io::write(target, v, io::WriteOptions{io::Format::Safetensors}), modelzoo::FormatError);
  EXPECT_TRUE(fs::is_empty(dir_.path())) << "a failed write left a file behind";
  // An existing file survives a failed overwrite unchanged.
  io::StateDict sd;
  sd.insert("w", at::arange(3).to(c10::ScalarType::Float));
  io::write_state_dict(target, sd);
  const std::string before = io_test::read_bytes(target);
  EXPECT_THROW(io::write(target, v), modelzoo::FormatError);
  EXPECT_EQ(io_test::read_bytes(target), before);
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_.path()), fs::directory_iterator()), 1);
  // A directory that does not exist is an error naming the file.
  try {
    io::write_state_dict(dir_ / "missing" / "x.pth", sd);
    ADD_FAILURE() << "expected FormatError";
  } catch (const modelzoo::FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("x.pth"), std::string::npos) << e.what();
  }
}

}  // namespace
