// cache_tool inspect on files of the shared corpus (weights published by
// other projects, checked against what Python's torch.load returns; one file
// per format and feature, since each run starts a process that loads
// LibTorch — the io stage's tests read all of them; skipped without the
// corpus, see support/corpus.h), on a checkpoint with
// non-tensor values written here, and on files that are not weights.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include <ATen/ATen.h>

#include "cache_tool/tool_util.h"
#include "support/corpus.h"
#include "modelzoo/io/io.h"

namespace ct_test {
namespace {

using ::testing::HasSubstr;

fs::path corpus() { return mz_test::corpus_dir(); }

// safetensors U16/U32/U64 have no LibTorch 1.13 dtype; the reader widens them.
std::string mapped_dtype(const std::string& dtype) {
  if (dtype == "uint16") return "int32";
  if (dtype == "uint32" || dtype == "uint64") return "int64";
  return dtype;
}

TEST(CacheToolInspect, CorpusFilesMatchPython) {
  MZ_REQUIRE_CORPUS();
  const std::vector<std::string> names = {
      "burn_checkpoint.pt",                // zip: nested checkpoint, optimizer state, int and float values
      "sdbc_bad-hands-5.pt",               // zip: str values
      "burn_bfloat16.pt",                  // zip: bfloat16
      "burn_legacy_with_offsets.pt",       // legacy: views at storage offsets
      "ram_6_8x8_2_ckpt.pth.tar",          // legacy: a training checkpoint
      "3ddfa_FaceBoxesProd.pth",           // legacy: float32 and int64 buffers
      "hfst_samples_overall.safetensors",  // safetensors: __metadata__ and every dtype, unsigned ones widened
      "yolov5n_ppe.pt",                    // pickles a custom class: refused
  };
  std::size_t loadable = 0;
  for (const auto& name : names) {
    SCOPED_TRACE(name);
    const fs::path file = corpus() / "real" / name;
    json expected;
    std::ifstream(corpus() / "expected" / (name + ".json")) >> expected;
    const ToolRun r = run_tool({"--json", "inspect", file.string()});
    if (!expected["loadable"].get<bool>()) {
      // A pickle of custom classes is refused, naming what it wanted; nothing runs.
      EXPECT_EQ(r.exit_code, 1);
      EXPECT_THAT(r.err, HasSubstr("models"));
      continue;
    }
    ++loadable;
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json d = r.doc();
    EXPECT_EQ(d["format"], expected["format"]);
    EXPECT_EQ(d["size"], expected["size"]);
    EXPECT_EQ(d["sha256"], expected["sha256"]);
    EXPECT_EQ(d["registered_as"], json::array());

    std::map<std::string, json> tensors, values;
    for (const auto& t : d["tensors"]) tensors[t["name"]] = t;
    for (const auto& v : d["values"]) values[v["name"]] = v;
    uint64_t params = 0, bytes = 0;
    std::size_t expected_tensors = 0, expected_values = 0;
    for (const auto& [path, want] : expected["entries"].items()) {
      if (want["kind"] == "tensor") {
        ++expected_tensors;
        ASSERT_TRUE(tensors.count(path)) << "tensor " << path;
        const json& got = tensors[path];
        EXPECT_EQ(got["dtype"], mapped_dtype(want["dtype"])) << path;
        EXPECT_EQ(got["shape"], want["shape"]) << path;
        uint64_t numel = 1;
        for (const auto& s : want["shape"]) numel *= s.get<uint64_t>();
        EXPECT_EQ(got["numel"], numel) << path;
        params += numel;
        bytes += got["bytes"].get<uint64_t>();
      } else {
        ++expected_values;
        ASSERT_TRUE(values.count(path)) << "value " << path;
        EXPECT_EQ(values[path]["kind"], want["kind"]) << path;
        if (want["kind"] == "float") {
          EXPECT_DOUBLE_EQ(values[path]["value"].get<double>(), want["value"].get<double>()) << path;
        } else {
          EXPECT_EQ(values[path]["value"], want["value"]) << path;
        }
      }
    }
    if (expected.contains("metadata")) {
      for (const auto& [k, v] : expected["metadata"].items()) {
        ++expected_values;
        ASSERT_TRUE(values.count("__metadata__/" + k)) << k;
        EXPECT_EQ(values["__metadata__/" + k]["value"], v);
      }
    }
    EXPECT_EQ(d["tensors"].size(), expected_tensors);
    EXPECT_EQ(d["values"].size(), expected_values);
    EXPECT_EQ(d["totals"]["tensors"], expected_tensors);
    EXPECT_EQ(d["totals"]["parameters"], params);
    EXPECT_EQ(d["totals"]["tensor_bytes"], bytes);
  }
  EXPECT_EQ(loadable, names.size() - 1);
}

TEST(CacheToolInspect, CheckpointWithValuesAndHumanOutput) {
  Sandbox sb;
  auto sd = modelzoo::io::Value::ordered_dict();
  sd.set("conv.weight", at::ones({8, 3, 3, 3}, at::kFloat));
  sd.set("conv.bias", at::zeros({8}, at::kHalf));
  sd.set("bn.num_batches_tracked", at::zeros({}, at::kLong));
  auto ckpt = modelzoo::io::Value::dict();
  ckpt.set("state_dict", sd);
  ckpt.set("epoch", 7);
  ckpt.set("arch", "tinynet");
  ckpt.set("best_acc", 0.875);
  ckpt.set("note", nullptr);
  ckpt.set("history", modelzoo::io::Value::list({1, 2}));
  const fs::path file = sb.dir() / "ckpt.pt";
  modelzoo::io::write(file, ckpt);

  const ToolRun r = sb.tool({"--json", "inspect", file.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json d = r.doc();
  EXPECT_EQ(d["format"], "zip");
  ASSERT_EQ(d["tensors"].size(), 3u);
  EXPECT_EQ(d["tensors"][0], (json{{"name", "state_dict/conv.weight"}, {"dtype", "float32"}, {"shape", {8, 3, 3, 3}},
                                   {"numel", 216}, {"bytes", 864}}));
  EXPECT_EQ(d["tensors"][1]["dtype"], "float16");
  EXPECT_EQ(d["tensors"][1]["bytes"], 16);
  EXPECT_EQ(d["tensors"][2]["shape"], json::array());
  EXPECT_EQ(d["totals"]["parameters"], 216 + 8 + 1);
  std::map<std::string, json> values;
  for (const auto& v : d["values"]) values[v["name"]] = v;
  EXPECT_EQ(values["epoch"], (json{{"name", "epoch"}, {"kind", "int"}, {"value", 7}}));
  EXPECT_EQ(values["arch"]["value"], "tinynet");
  EXPECT_EQ(values["best_acc"]["value"], 0.875);
  EXPECT_EQ(values["note"]["kind"], "none");
  EXPECT_EQ(values["history/1"]["value"], 2);

  const ToolRun text = sb.tool({"inspect", file.string()});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_THAT(text.out, HasSubstr("format:     zip"));
  EXPECT_THAT(text.out, HasSubstr("state_dict/conv.weight"));
  EXPECT_THAT(text.out, HasSubstr("[8, 3, 3, 3]"));
  EXPECT_THAT(text.out, HasSubstr("tinynet"));
  EXPECT_THAT(text.out, HasSubstr("3 tensors, 225 parameters"));

  // Registered files say which entry they are.
  sb.add_entry("ckpt_model", "V1", "http://127.0.0.1:1/ckpt.pt", sha256_hex(read_file(file)), fs::file_size(file));
  const json reg = sb.tool({"--json", "inspect", file.string()}).doc();
  EXPECT_EQ(reg["registered_as"], json::array({"ckpt_model:V1"}));
}

TEST(CacheToolInspect, SafetensorsWrittenHere) {
  Sandbox sb;
  modelzoo::io::StateDict sd;
  sd.insert("w", at::arange(12, at::kFloat).reshape({3, 4}));
  sd.insert("b", at::ones({4}, at::kBFloat16));
  const fs::path file = sb.dir() / "m.safetensors";
  modelzoo::io::WriteOptions wo;
  wo.format = modelzoo::io::Format::Safetensors;
  modelzoo::io::write_state_dict(file, sd, wo);
  const json d = sb.tool({"--json", "inspect", file.string()}).doc();
  EXPECT_EQ(d["format"], "safetensors");
  EXPECT_EQ(d["totals"]["parameters"], 16);
  EXPECT_EQ(d["totals"]["tensor_bytes"], 12 * 4 + 4 * 2);
}

TEST(CacheToolInspect, NonWeightFilesAreRefused) {
  Sandbox sb;
  write_file(sb.dir() / "notes.txt", "just some text, not a weight file at all");
  const ToolRun txt = sb.tool({"inspect", (sb.dir() / "notes.txt").string()});
  EXPECT_EQ(txt.exit_code, 1);
  EXPECT_THAT(txt.err, HasSubstr("notes.txt"));
  EXPECT_THAT(txt.err, HasSubstr("not a weight file"));
  // A truncated zip checkpoint: an error naming the file, not a crash.
  modelzoo::io::StateDict sd;
  sd.insert("w", at::arange(4096, at::kFloat));
  sd.insert("b", at::arange(64, at::kLong));
  modelzoo::io::write_state_dict(sb.dir() / "whole.pt", sd);
  const std::string whole = read_file(sb.dir() / "whole.pt");
  write_file(sb.dir() / "cut.pt", whole.substr(0, whole.size() / 2));
  const ToolRun cut = sb.tool({"--json", "inspect", (sb.dir() / "cut.pt").string()});
  EXPECT_EQ(cut.exit_code, 1);
  EXPECT_EQ(cut.doc()["ok"], false);
  const ToolRun missing = sb.tool({"inspect", (sb.dir() / "nope.pt").string()});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_THAT(missing.err, HasSubstr("nope.pt"));
}

}  // namespace
}  // namespace ct_test
