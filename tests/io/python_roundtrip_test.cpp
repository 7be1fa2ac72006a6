// Round trips with Python's torch: files torch.save wrote are read here, and
// files written here are loaded by Python (tests/oracle/io_make.py and
// io_load.py, run with /usr/bin/python3 in a temp dir).

#include <gtest/gtest.h>

#include <ATen/ops/arange.h>
#include <ATen/ops/ones.h>
#include <ATen/ops/randn.h>
#include <ATen/ops/tensor.h>

#include <filesystem>
#include <memory>
#include <set>

#include "io_test_util.h"
#include "modelzoo/error.h"
#include "modelzoo/io/io.h"
#include "support/process.h"

namespace {

namespace fs = std::filesystem;
namespace io = modelzoo::io;
using io_test::Value;

fs::path oracle(const std::string& script) { return fs::path(MZ_SOURCE_DIR) / "tests" / "oracle" / script; }

// Files written by Python once per build tree (cached under the build
// directory, rebuilt when io_make.py changes), shared by every test process.
class FromPython : public ::testing::Test {
 protected:
  static fs::path dir() { return fs::path(MZ_BINARY_DIR) / "test_fixtures" / "io_from_python"; }
  static void SetUpTestSuite() { manifest_ = mz_test::cached_fixture(dir(), oracle("io_make.py"), ""); }

  static void check(const std::string& name, bool mmap) {
    SCOPED_TRACE(name + (mmap ? " (mmap)" : " (pread)"));
    ASSERT_TRUE(manifest_.contains(name));
    const auto& want = manifest_[name];
    const fs::path file = dir() / name;
    EXPECT_EQ(io::format_name(io::detect_format(file)), want["format"].get<std::string>());
    io::ReadOptions opt;
    opt.mmap = mmap;
    Value v = io::read(file, opt);
    if (want.contains("metadata")) {
      const Value& meta = v.at("__metadata__");
      EXPECT_EQ(meta.size(), want["metadata"].size());
      for (auto it = want["metadata"].begin(); it != want["metadata"].end(); ++it) {
        EXPECT_EQ(meta.at(it.key()).as_str(), it.value().get<std::string>());
      }
      v.erase(Value("__metadata__"));
    }
    std::map<std::string, nlohmann::json> have;
    io_test::flatten(v, "", have);
    io_test::compare_entries(want["entries"], have, name);
  }

  static nlohmann::json manifest_;
};

nlohmann::json FromPython::manifest_;

TEST_F(FromPython, ZipStateDictEveryDtypeViewsAndStrides) {
  check("zip_sd.pt", true);
  check("zip_sd.pt", false);
}
TEST_F(FromPython, LegacyStateDictEveryDtypeViewsAndStrides) {
  check("legacy_sd.pt", true);
  check("legacy_sd.pt", false);
}
TEST_F(FromPython, ZipCheckpointWithPlainValues) { check("zip_ckpt.pt", true); }
TEST_F(FromPython, LegacyCheckpointWithPlainValues) { check("legacy_ckpt.pt", false); }
TEST_F(FromPython, PickleProtocols2To5) {
  check("zip_p2.pt", true);
  check("zip_p4.pt", true);
  check("zip_p5.pt", false);
}
TEST_F(FromPython, Parameters) {
  check("zip_params.pt", true);
  check("legacy_params.pt", true);
}
TEST_F(FromPython, BigEndianZip) {
  check("big_endian.pt", true);
  check("big_endian.pt", false);
}
TEST_F(FromPython, DeflatedZip) { check("deflated.pt", true); }
TEST_F(FromPython, BigEndianLegacyWithStorageViews) {
  check("legacy_big_endian_views.pt", true);
  check("legacy_big_endian_views.pt", false);
  // Both views are slices of the one root storage.
  Value v = io::read(dir() / "legacy_big_endian_views.pt");
  const at::Tensor& a = v.at("a").as_tensor();
  const at::Tensor& b = v.at("b").as_tensor();
  EXPECT_EQ(static_cast<const float*>(b.data_ptr()) - static_cast<const float*>(a.data_ptr()), 4);
}
TEST_F(FromPython, SafetensorsUnsignedAndMetadata) {
  check("unsigned.safetensors", true);
  check("unsigned.safetensors", false);
}

// ---------------------------------------------------------------------------
// C++ writes, Python reads.

nlohmann::json python_load(const std::vector<fs::path>& files) {
  std::string cmd = std::string(mz_test::python()) + " " + mz_test::shell_quote(oracle("io_load.py").string());
  for (const auto& f : files) cmd += " " + mz_test::shell_quote(f.string());
  return nlohmann::json::parse(mz_test::must_run(cmd));
}

io::StateDict sample_state_dict() {
  at::Tensor base = at::arange(24, at::TensorOptions().dtype(at::kFloat)).reshape({4, 6});
  io::StateDict sd;
  sd.insert("conv.weight", at::randn({8, 3, 3, 3}));
  sd.insert("conv.bias", at::randn({8}));
  sd.insert("bn.num_batches_tracked", at::tensor(int64_t{12}));
  sd.insert("half", at::randn({3, 2}).to(at::kHalf));
  sd.insert("bf16", at::randn({4}).to(at::kBFloat16));
  sd.insert("f64", at::randn({2, 2}, at::TensorOptions().dtype(at::kDouble)));
  sd.insert("i8", at::tensor({-3, 4}, at::TensorOptions().dtype(at::kChar)));
  sd.insert("i16", at::tensor({-300, 400}, at::TensorOptions().dtype(at::kShort)));
  sd.insert("i32", at::tensor({-70000, 80000}, at::TensorOptions().dtype(at::kInt)));
  sd.insert("u8", at::tensor({0, 255}, at::TensorOptions().dtype(at::kByte)));
  sd.insert("mask", at::tensor({1, 0, 1}, at::TensorOptions().dtype(at::kByte)).to(at::kBool));
  sd.insert("c64", at::randn({3}, at::TensorOptions().dtype(at::kComplexFloat)));
  sd.insert("empty", at::ones({0, 5}));
  sd.insert("transposed", base.t());
  sd.insert("view_rows", base.slice(0, 1, 3));
  sd.insert("view_cols", base.slice(1, 0, 6, 2));
  return sd;
}

Value to_value(const io::StateDict& sd) {
  Value d = Value::ordered_dict();
  for (const auto& item : sd) d.set(Value(item.key()), Value(item.value()));
  return d;
}

void check_state_dict(const nlohmann::json& loaded, const fs::path& dir, const io::StateDict& sd) {
  SCOPED_TRACE("sd.pth");
  const nlohmann::json& got = loaded["sd.pth"];
  EXPECT_EQ(got["weights_only"], "ok") << got.dump();
  EXPECT_EQ(got["type"], "OrderedDict");
  std::map<std::string, nlohmann::json> mine;
  io_test::flatten(to_value(sd), "", mine);
  io_test::compare_entries(got["entries"], mine, "sd.pth written here, loaded by Python");
  // PyTorch's layout: archive/ records, 64-byte aligned storages.
  std::set<std::string> names(got["zip_names"].begin(), got["zip_names"].end());
  for (const char* n : {"archive/data.pkl", "archive/version", "archive/byteorder", "archive/data/0"}) {
    EXPECT_TRUE(names.count(n)) << n;
  }
  for (auto it = got["zip_data_offsets"].begin(); it != got["zip_data_offsets"].end(); ++it) {
    if (it.key().rfind("archive/data/", 0) == 0) EXPECT_EQ(it.value().get<uint64_t>() % 64, 0u) << it.key();
  }
  // And it reads back here identically.
  std::map<std::string, nlohmann::json> back;
  io_test::flatten(io::read(dir / "sd.pth"), "", back);
  nlohmann::json want(mine);
  io_test::compare_entries(want, back, "sd.pth read back");
}

void check_checkpoint(const nlohmann::json& loaded, const Value& ckpt, const Value& no_float) {
  SCOPED_TRACE("ckpt.pth");
  const nlohmann::json& got = loaded["ckpt.pth"];
  // torch 1.13's weights-only unpickler lacks BINFLOAT (opcode 71, 'G'), so a
  // checkpoint holding a Python float is loaded with an unpickler that allows
  // exactly the weights-only allowlist instead.
  if (got["weights_only"] != "ok") {
    EXPECT_NE(got["weights_only"].get<std::string>().find("71"), std::string::npos) << got["weights_only"];
  }
  std::map<std::string, nlohmann::json> mine;
  io_test::flatten(ckpt, "", mine);
  io_test::compare_entries(got["entries"], mine, "ckpt.pth loaded by Python via " + got["loader"].get<std::string>());
  // Without the float, torch.load(weights_only=True) itself accepts the checkpoint.
  const nlohmann::json& got2 = loaded["ckpt_no_float.pth"];
  EXPECT_EQ(got2["weights_only"], "ok") << got2.dump();
  std::map<std::string, nlohmann::json> mine2;
  io_test::flatten(no_float, "", mine2);
  io_test::compare_entries(got2["entries"], mine2, "ckpt_no_float.pth");
}

void check_safetensors(const nlohmann::json& loaded, const fs::path& dir, const io::StateDict& sd) {
  SCOPED_TRACE("sd.safetensors");
  const nlohmann::json& got = loaded["sd.safetensors"];
  EXPECT_EQ(got["metadata"], nlohmann::json({{"format", "pt"}}));
  EXPECT_EQ(got["header_len"].get<uint64_t>() % 8, 0u);
  std::map<std::string, nlohmann::json> mine;
  io_test::flatten(to_value(sd), "", mine);
  // safetensors stores each tensor contiguous on its own: compare values, not layout.
  io_test::compare_entries(got["entries"], mine, "sd.safetensors", {false, false});
  io::StateDict back = io::read_state_dict(dir / "sd.safetensors");
  ASSERT_EQ(back.size(), sd.size());
  for (const auto& item : sd) EXPECT_TRUE(back[item.key()].equal(item.value())) << item.key();
}

// Everything C++ writes is loaded by one Python run (importing torch is slow,
// and ctest runs each test in its own process).
TEST(ToPython, WrittenFilesLoadInPython) {
  mz_test::TempDir dir("mz_io_w_");
  const io::StateDict sd = sample_state_dict();
  io::write_state_dict(dir / "sd.pth", sd);

  Value ckpt = Value::dict();
  ckpt.set("state", to_value(sd));
  ckpt.set("epoch", 3);
  ckpt.set("best", 0.93);
  ckpt.set("name", "x");
  ckpt.set("flags", Value::list({true, nullptr, false}));
  ckpt.set("pair", Value::tuple({1, "a"}));
  ckpt.set("big", Value::big_int("-1180591620717411303424"));
  ckpt.set("neg", -70000);
  ckpt.set(Value(7), "int key");
  io::write(dir / "ckpt.pth", ckpt);
  Value no_float = Value::dict();
  for (const auto& [k, v] : ckpt.entries()) {
    if (!v.is_float()) no_float.set(k, v);
  }
  io::write(dir / "ckpt_no_float.pth", no_float);

  io::StateDict st_sd = sample_state_dict();
  st_sd.erase("c64");  // safetensors of the torch 1.13 era has no complex
  Value st = to_value(st_sd);
  Value meta = Value::dict();
  meta.set("format", "pt");
  st.set("__metadata__", meta);
  io::write(dir / "sd.safetensors", st, io::WriteOptions{io::Format::Safetensors});

  std::vector<fs::path> files;
  for (const char* n : {"sd.pth", "ckpt.pth", "ckpt_no_float.pth", "sd.safetensors"}) files.push_back(dir / n);
  const nlohmann::json loaded = python_load(files);
  check_state_dict(loaded, dir.path(), sd);
  check_checkpoint(loaded, ckpt, no_float);
  check_safetensors(loaded, dir.path(), st_sd);
}

}  // namespace
