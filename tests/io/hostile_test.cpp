// Damaged and malicious files, built here byte by byte, one case per kind of
// damage; each must be refused with its own message and nothing may run.

#include <gtest/gtest.h>

#include <ATen/ops/arange.h>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <zlib.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
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


// --- bounded runs -----------------------------------------------------------
// What a read in a child process did under limits on address space and CPU.
struct Bounded {
  int status = -1;      // 0 read, 1 FormatError, 2 other exception, -1 killed (limit hit or crash)
  std::string message;  // the exception's message
};

// Runs `fn` in a forked child allowed `mib` MiB of address space beyond what
// the process has now and `cpu_seconds` of CPU (both far above what a
// refusal needs: they turn a blow-up into a failed test instead of a stuck
// or swapping machine).
Bounded run_bounded(const std::function<void()>& fn, uint64_t mib = 1024, int cpu_seconds = 60) {
  uint64_t vm_kib = 0;
  {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line)) {
      if (line.rfind("VmSize:", 0) == 0) vm_kib = std::stoull(line.substr(7));
    }
  }
  int fds[2];
  if (::pipe(fds) != 0) return {};
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    rlimit as{(vm_kib << 10) + (mib << 20), (vm_kib << 10) + (mib << 20)};
    ::setrlimit(RLIMIT_AS, &as);
    rlimit cpu{static_cast<rlim_t>(cpu_seconds), static_cast<rlim_t>(cpu_seconds)};
    ::setrlimit(RLIMIT_CPU, &cpu);
    int code = 0;
    std::string msg;
    try {
      fn();
    } catch (const modelzoo::FormatError& e) {
      code = 1;
      msg = e.what();
    } catch (const std::exception& e) {
      code = 2;
      msg = e.what();
    }
    const char* p = msg.data();
    std::size_t left = msg.size();
    while (left > 0) {
      ssize_t n = ::write(fds[1], p, left);
      if (n <= 0) break;
      p += n;
      left -= static_cast<std::size_t>(n);
    }
    ::_exit(code);
  }
  ::close(fds[1]);
  Bounded out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0) out.message.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  int st = 0;
  ::waitpid(pid, &st, 0);
  out.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  if (!WIFEXITED(st)) out.message = "killed by signal " + std::to_string(WTERMSIG(st));
  return out;
}

// A zip archive with one deflated record whose header declares `declared` bytes.
std::string deflated_zip(const std::string& name, const std::string& raw, uint64_t declared) {
  z_stream z{};
  deflateInit2(&z, 9, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  std::string comp(deflateBound(&z, raw.size()) + 16, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(raw.data()));
  z.avail_in = static_cast<uInt>(raw.size());
  z.next_out = reinterpret_cast<Bytef*>(comp.data());
  z.avail_out = static_cast<uInt>(comp.size());
  deflate(&z, Z_FINISH);
  comp.resize(z.total_out);
  deflateEnd(&z);
  const uint32_t crc = static_cast<uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(raw.data()), raw.size()));
  auto u16 = [](uint32_t v) { return std::string{static_cast<char>(v & 0xFF), static_cast<char>((v >> 8) & 0xFF)}; };
  std::string local = u32(0x04034b50) + u16(20) + u16(0) + u16(8) + u16(0) + u16(0x21) + u32(crc) +
                      u32(static_cast<uint32_t>(comp.size())) + u32(static_cast<uint32_t>(declared)) +
                      u16(static_cast<uint32_t>(name.size())) + u16(0) + name;
  std::string central = u32(0x02014b50) + u16(20) + u16(20) + u16(0) + u16(8) + u16(0) + u16(0x21) + u32(crc) +
                        u32(static_cast<uint32_t>(comp.size())) + u32(static_cast<uint32_t>(declared)) +
                        u16(static_cast<uint32_t>(name.size())) + u16(0) + u16(0) + u16(0) + u16(0) + u32(0) +
                        u32(0) + name;
  const uint32_t cd_offset = static_cast<uint32_t>(local.size() + comp.size());
  std::string end = u32(0x06054b50) + u16(0) + u16(0) + u16(1) + u16(1) + u32(static_cast<uint32_t>(central.size())) +
                    u32(cd_offset) + u16(0);
  return local + comp + central + end;
}

// A safetensors file with header `h` (padded) and `data_bytes` zero bytes.
std::string safetensors_with(std::string h, std::size_t data_bytes = 0) {
  while ((8 + h.size()) % 8) h += ' ';
  return u64(h.size()) + h + std::string(data_bytes, '\0');
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

  // Like refused<FormatError>, but each read runs in a child process limited
  // to `mib` MiB more memory and `cpu` seconds of CPU (see run_bounded).
  void refused_bounded(const fs::path& file, const std::vector<std::string>& parts, uint64_t mib = 512, int cpu = 30) {
    for (bool mmap : {true, false}) {
      Bounded r = run_bounded([&] {
        io::ReadOptions opt;
        opt.mmap = mmap;
        io::read(file, opt);
      }, mib, cpu);
      ASSERT_EQ(r.status, 1) << file << " (mmap " << mmap << "): expected a FormatError within " << mib << " MiB and "
                             << cpu << " s CPU; got: " << r.message;
      for (const auto& part : parts) EXPECT_NE(r.message.find(part), std::string::npos) << "'" << part << "' not in: " << r.message;
      EXPECT_NE(r.message.find(file.string()), std::string::npos) << "file not named in: " << r.message;
    }
  }

  // The file reads (mmap and not) in a child limited as in refused_bounded.
  void reads_bounded(const fs::path& file, const std::function<void(const Value&)>& check, uint64_t mib = 512,
                     int cpu = 30) {
    for (bool mmap : {true, false}) {
      Bounded r = run_bounded([&] {
        io::ReadOptions opt;
        opt.mmap = mmap;
        check(io::read(file, opt));
      }, mib, cpu);
      EXPECT_EQ(r.status, 0) << file << " (mmap " << mmap << "): expected to read within " << mib << " MiB and " << cpu
                             << " s CPU; got: " << r.message;
    }
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

// --- exhaustion: nesting, amplification, bombs --------------------------------

// Throws (inside a bounded child) unless `cond`.
void require(bool cond, const std::string& what) {
  if (!cond) throw std::runtime_error("check failed: " + what);
}

TEST_F(Hostile, SafetensorsShapeNested200000DeepIsRefused) {
  const std::string deep = std::string(200000, '[') + std::string(200000, ']');
  refused_bounded(put("deep_shape.safetensors",
                      safetensors_with(R"({"a":{"dtype":"F32","shape":)" + deep + R"(,"data_offsets":[0,0]}})")),
                  {"nests JSON more than 3 levels deep", "its schema needs 3"});
  refused_bounded(put("deep_offsets.safetensors",
                      safetensors_with(R"({"a":{"dtype":"F32","shape":[0],"data_offsets":)" + deep + "}}")),
                  {"nests JSON more than 3 levels deep"});
  // Brackets inside strings are text, not nesting.
  refused<modelzoo::FormatError>(
      put("brackets_in_name.safetensors", safetensors_with(R"({"[[[[":{"dtype":"F32","shape":[1],"data_offsets":[0,8]}})", 8)),
      {"tensor '[[[['", "needs 4 bytes but its data_offsets span 8"});
}

TEST_F(Hostile, SafetensorsDuplicateKeyIsRefused) {
  refused<modelzoo::FormatError>(
      put("dup.safetensors", safetensors_with(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                                              R"("a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8)),
      {"gives key 'a' twice"});
  refused<modelzoo::FormatError>(
      put("dup_field.safetensors",
          safetensors_with(R"({"a":{"dtype":"F32","dtype":"I32","shape":[1],"data_offsets":[0,4]}})", 4)),
      {"gives key 'dtype' twice"});
}

TEST_F(Hostile, SafetensorsDimensionsMultiplyingPast2To64AreRefused) {
  // Empty (one dimension 0) but the others multiply past 2^64: an unchecked
  // product would call it 0 elements and accept it.
  refused<modelzoo::FormatError>(
      put("dims_empty.safetensors",
          safetensors_with(R"({"a":{"dtype":"F32","shape":[0,4611686018427387904,4611686018427387904],"data_offsets":[0,0]}})")),
      {"tensor 'a'", "multiply past 2^63"});
  refused<modelzoo::FormatError>(
      put("dims_order.safetensors",
          safetensors_with(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296,0],"data_offsets":[0,0]}})")),
      {"tensor 'a'", "multiply past 2^63"});
  refused<modelzoo::FormatError>(
      put("dims_full.safetensors",
          safetensors_with(R"({"a":{"dtype":"F64","shape":[2147483648,2147483648],"data_offsets":[0,8]}})", 8)),
      {"tensor 'a'", "needs more than 2^64 bytes"});
}

TEST_F(Hostile, MutatedSafetensorsHeadersNeverCrash) {
  // Every single-bit flip of a real header: each read ends with a tensor dict
  // or a FormatError, never another exception or a crash.
  io::StateDict sd;
  sd.insert("conv.weight", at::arange(24).to(c10::ScalarType::Float).view({2, 3, 2, 2}));
  sd.insert("conv.bias", at::arange(2).to(c10::ScalarType::Half));
  const fs::path good = dir_ / "good.safetensors";
  io::write_state_dict(good, sd, io::WriteOptions{io::Format::Safetensors});
  const std::string bytes = io_test::read_bytes(good);
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  int read_ok = 0, refused_count = 0;
  const fs::path mutated = dir_ / "mutated.safetensors";
  for (uint64_t i = 0; i < 8 + n; ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string m = bytes;
      m[i] = static_cast<char>(m[i] ^ (1 << bit));
      io_test::write_bytes(mutated, m);
      io::ReadOptions opt;
      opt.mmap = bit % 2 == 0;  // both ways, alternately
      try {
        io::read(mutated, opt);
        ++read_ok;
      } catch (const modelzoo::FormatError&) {
        ++refused_count;
      } catch (const std::exception& e) {
        ADD_FAILURE() << "byte " << i << " bit " << bit << ": " << e.what();
      }
    }
  }
  EXPECT_GT(refused_count, 0);
  EXPECT_GT(read_ok, 0);  // flips inside names or padding still read
}

TEST_F(Hostile, PickleOf100000NestedRebuildFromTypeV2IsRefused) {
  // _rebuild_from_type_v2(f, Tensor, args, state) calls f(*args); here args
  // holds the next call, 100,000 deep (700 KB).
  std::string p = kProto2 + global("torch._tensor", "_rebuild_from_type_v2") + B("q\x00") + global("torch", "Tensor") +
                  B("q\x01") + "0" + "0";
  const int depth = 100000;
  p += B("h\x00");
  for (int i = 0; i < depth; ++i) p += B("(h\x00h\x01");
  p += ")";
  for (int i = 0; i < depth; ++i) p += "}t";
  p += "R.";
  refused_bounded(put("nested_calls.pt", zip_with(p)), {"calls nested more than 8 deep", "_rebuild_from_type_v2"});
  refused_bounded(put("nested_calls_legacy.pt", legacy_preamble() + p), {"calls nested more than 8 deep"});
}

TEST_F(Hostile, DeeplyNestedListsReadAndFreeWithoutRecursion) {
  // 200,000 lists each inside the previous: fine for Python, and here too
  // (built, checked and destroyed iteratively).
  std::string p = kProto2 + "]";
  for (int i = 0; i < 200000; ++i) p += "]";
  for (int i = 0; i < 200000; ++i) p += "a";
  p += ".";
  reads_bounded(put("deep_lists.pt", zip_with(p)), [](const Value& v) { require(v.is_list() && v.size() == 1, "a list"); });
}

TEST_F(Hostile, ZipBombDeclaring2GiBIsRefusedBeforeAllocating) {
  const std::string raw = kProto2 + "}.";
  refused_bounded(put("bomb.pt", deflated_zip("archive/data.pkl", raw, uint64_t{1} << 31)),
                  {"archive/data.pkl", "declares 2147483648 bytes from only"}, /*mib=*/256);
  // Within the ratio deflate allows, but the stream inflates to more than declared.
  std::string big = kProto2 + "}" + std::string(1 << 20, 'N') + ".";
  refused_bounded(put("liar.pt", deflated_zip("archive/data.pkl", big, 4096)),
                  {"archive/data.pkl", "inflates to more than its declared 4096 bytes"}, 256);
  // And to fewer.
  refused_bounded(put("short.pt", deflated_zip("archive/data.pkl", raw, 4096)),
                  {"archive/data.pkl", "only 4 of its declared 4096 bytes"}, 256);
}

TEST_F(Hostile, MemoSharedStringKeysCostNoCopies) {
  // 20,000 dict keys (s, i) sharing one 1 MiB string through the memo (1.2 MB
  // file): Python keeps one string; copying it per key would need 20 GiB.
  const std::string big(1 << 20, 'k');
  std::string p = kProto2 + "}" + "X" + u32(static_cast<uint32_t>(big.size())) + big + B("q\x00") + "0" + "(";
  for (int i = 0; i < 20000; ++i) p += B("h\x00") + "J" + u32(static_cast<uint32_t>(i)) + "\x86" + "N";
  p += "u.";
  reads_bounded(put("memo_keys.pt", zip_with(p)), [](const Value& v) {
    require(v.is_dict() && v.size() == 20000, "20000 keys");
  }, 256);
  // One 1 MiB key set 250,000 times (1.8 MB): hashed once, compared by identity.
  std::string q = kProto2 + "}" + "X" + u32(static_cast<uint32_t>(big.size())) + big + B("q\x00") + "N" + "s";
  for (int i = 0; i < 250000; ++i) q += B("h\x00") + "Ns";
  q += ".";
  reads_bounded(put("memo_reset.pt", zip_with(q)), [](const Value& v) { require(v.is_dict() && v.size() == 1, "1 key"); },
                256, 20);
}

TEST_F(Hostile, BillionLaughsTuplesStayShared) {
  // 60 nested (x, x) pairs in a few hundred bytes: 2^60 leaves if expanded.
  std::string p = kProto2 + "N";
  for (int i = 0; i < 60; ++i) p += B("q\x00h\x00\x86");
  p += ".";
  const fs::path f = put("laughs.pt", zip_with(p));
  EXPECT_LT(fs::file_size(f), 1024u);
  reads_bounded(f, [](const Value& v) {
    require(v.is_tuple() && v.size() == 2 && v.items()[0].same_object(v.items()[1]), "a shared pair");
  }, 256, 10);
  // As a dict key: hashed once per tuple, not per leaf.
  std::string k = kProto2 + "}" + "N";
  for (int i = 0; i < 60; ++i) k += B("q\x00h\x00\x86");
  k += "Ns.";
  reads_bounded(put("laughs_key.pt", zip_with(k)), [](const Value& v) { require(v.is_dict() && v.size() == 1, "1 key"); },
                256, 10);
}

TEST_F(Hostile, ListHoldingItselfIsRefusedAndFreed) {
  refused<modelzoo::FormatError>(put("cycle.pt", zip_with(kProto2 + B("]q\x00h\x00" "a."))), {"a container holds itself"});
  // Through a dict's BUILD attributes too.
  refused<modelzoo::FormatError>(put("cycle_attrs.pt", zip_with(kProto2 + B("}q\x00}(X\x01\x00\x00\x00" "ah\x00" "ub."))),
                                 {"a container holds itself"});
}

// --- ambiguous archives --------------------------------------------------------

TEST_F(Hostile, ZipWithTwoDataPklRecordsIsRefused) {
  // torch.load runs the second; a reader that takes the first would call the file safe.
  std::string evil = kProto2 + global("os", "system") + unicode(touch_command(marker_)) + "\x85R.";
  refused<modelzoo::FormatError>(put("two_pkl.pt", zip_with(kProto2 + "}.", {{"archive/data.pkl", evil}})),
                                 {"two records named 'archive/data.pkl'"});
}

TEST_F(Hostile, ZipRecordsOutsideTheArchiveDirectoryAreRefused) {
  refused<modelzoo::FormatError>(put("outside.pt", zip_with(kProto2 + "}.", {{"other/data/0", "x"}})),
                                 {"zip record 'other/data/0' lies outside the directory 'archive/'"});
  refused<modelzoo::FormatError>(put("dotdot.pt", zip_with(kProto2 + "}.", {{"archive/../../etc/x", "x"}})),
                                 {"'archive/../../etc/x'", "'..' component"});
  refused<modelzoo::FormatError>(put("absolute.pt", zip_with(kProto2 + "}.", {{"/etc/passwd", "x"}})),
                                 {"'/etc/passwd'", "absolute path"});
  refused<modelzoo::FormatError>(put("backslash.pt", zip_with(kProto2 + "}.", {{"archive\\..\\x", "x"}})),
                                 {"holds a backslash"});
}

TEST_F(Hostile, LegacyFileThatIsAlsoATarArchiveIsRefused) {
  // torch.load tries tarfile first: a legacy file whose first block is also a
  // valid tar header is read as a tar by Python.
  std::string sys = kProto2 + "}(" + unicode("little_endian") + "\x88" + unicode("pad") + "X" + u32(600) +
                    std::string(600, 'a') + "u.";
  std::string head = kProto2 + std::string("\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19", 12) + "." + kProto2 +
                     "M" + std::string("\xe9\x03", 2) + "." + sys;
  std::string p = kProto2 + "}.";
  std::string keys = kProto2 + "].";
  std::string file = head + p + keys;
  ASSERT_GE(file.size(), 512u);
  // Write a matching tar checksum into bytes 148..155 (inside the 'pad' string).
  unsigned sum = 256;
  for (std::size_t i = 0; i < 512; ++i) {
    if (i < 148 || i >= 156) sum += static_cast<unsigned char>(file[i]);
  }
  char field[9];
  std::snprintf(field, sizeof field, "%06o", sum);
  file.replace(148, 8, std::string(field, 6) + std::string("\0 ", 2));
  ASSERT_EQ(io::detect_format(put("tar_legacy.pt", file)), io::Format::Legacy);
  refused<modelzoo::FormatError>(put("tar_legacy.pt", file), {"ambiguous file", "valid tar header", "legacy"});
  // The same file with a wrong checksum is an ordinary legacy file.
  file[153] = static_cast<char>(file[153] ^ 1);  // the checksum's last octal digit
  for (bool mmap : {true, false}) {
    io::ReadOptions opt;
    opt.mmap = mmap;
    EXPECT_NO_THROW(io::read(put("not_tar.pt", file), opt));
  }
}

}  // namespace
