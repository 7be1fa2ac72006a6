// End to end through a real nginx on 127.0.0.1: torchvision-generated VGG
// weights served over HTTP, a user registry with their hash, and the
// pretrained factories compared against torchvision's outputs.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <future>
#include <memory>

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>
#include <nlohmann/json.hpp>

#include "modelzoo/modelzoo.h"
#include "support/nginx_server.h"
#include "support/process.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::HasSubstr;

// vgg11 weights in both formats, generated once into the build tree (shared by
// the test processes ctest starts, under a lock) and served by nginx.
class Fixture {
 public:
  static Fixture& get() {
    static Fixture f;
    return f;
  }
  mz_test::NginxServer& server() { return *server_; }
  const json& vgg11() const { return manifest_["vgg11"]; }
  std::string url(const std::string& relative) { return server().http_url() + "/" + relative; }
  std::string zip_url() { return url(vgg11()["zip"]["file_name"].get<std::string>()); }
  std::string legacy_url() { return url("legacy/" + vgg11()["legacy"]["file_name"].get<std::string>()); }
  std::string zip_path_on_server() { return "/" + vgg11()["zip"]["file_name"].get<std::string>(); }

  // A user registry pointing vgg11's default weights at the local server.
  fs::path write_registry(const std::string& sha256) {
    json doc = {{"format_version", 1},
                {"models",
                 {{"vgg11",
                   {{"arch", "vgg11"},
                    {"default", "IMAGENET1K_V1"},
                    {"weights",
                     {{"IMAGENET1K_V1",
                       {{"url", zip_url()},
                        {"sha256", sha256},
                        {"size", vgg11()["zip"]["size"]},
                        {"categories", "imagenet1k"}}}}}}}}}};
    const fs::path p = registry_dir_.path() / ("registry_" + sha256.substr(0, 8) + ".json");
    std::ofstream(p) << doc.dump(2);
    return p;
  }

  // Input and torchvision's output for it.
  std::pair<at::Tensor, at::Tensor> expected() {
    const auto v = modelzoo::io::read(vgg11()["expected"].get<std::string>());
    return {v.at("input").as_tensor(), v.at("output").as_tensor()};
  }

 private:
  Fixture() {
    const fs::path dir = fs::path(MZ_BINARY_DIR) / "fixtures" / "hub";
    const fs::path script = fs::path(MZ_SOURCE_DIR) / "tests" / "oracle" / "hub_fixture.py";
    manifest_ = mz_test::cached_fixture(dir, script, "vgg11");
    mz_test::NginxOptions o;
    o.docroot = dir;
    server_ = std::make_unique<mz_test::NginxServer>(o);
  }
  json manifest_;
  std::unique_ptr<mz_test::NginxServer> server_;
  mz_test::TempDir registry_dir_{"mz_hub_registry_"};
};

// Options as a program would have them, but with explicit cache and registry.
modelzoo::HubOptions options_for(const fs::path& cache_root, const fs::path& registry_file) {
  modelzoo::HubOptions o;
  o.registry = modelzoo::registry::Registry::builtin();
  o.registry.add_file(registry_file);
  o.cache.root = cache_root;
  o.fetch.max_attempts = 1;
  return o;
}

void expect_close(const at::Tensor& actual, const at::Tensor& expected) {
  ASSERT_EQ(actual.sizes(), expected.sizes());
  const double scale = std::max(1.0, expected.abs().max().item<double>());
  const double diff = (actual - expected).abs().max().item<double>();
  EXPECT_LE(diff, 1e-4 * scale) << "max abs diff " << diff << " (output scale " << scale << ")";
}

template <typename Model>
at::Tensor run(Model& model, const at::Tensor& x) {
  c10::NoGradGuard no_grad;
  return model->forward(x);
}

class HubE2E : public ::testing::Test {
 protected:
  void SetUp() override { fixture_ = &Fixture::get(); }
  Fixture* fixture_ = nullptr;
};

TEST_F(HubE2E, PretrainedDownloadsOnceVerifiesAndMatchesTorchvision) {
  mz_test::TempDir cache("mz_hub_cache_");
  auto& f = *fixture_;
  const auto before = f.server().request_count(f.zip_path_on_server());
  modelzoo::LoadTrace trace;
  auto opts = options_for(cache.path(), f.write_registry(f.vgg11()["zip"]["sha256"]));
  opts.trace = &trace;

  auto model = modelzoo::vgg11(/*pretrained=*/true, opts);
  EXPECT_TRUE(trace.downloaded);
  EXPECT_EQ(trace.file, cache.path() / f.vgg11()["zip"]["file_name"].get<std::string>());
  EXPECT_TRUE(fs::exists(trace.file));
  EXPECT_FALSE(model->is_training()) << "pretrained models come back in eval mode";
  // One download: a request, or several ranged ones for a large file.
  const auto after = f.server().request_count(f.zip_path_on_server());
  EXPECT_GT(after, before);

  const auto [x, y] = f.expected();
  expect_close(run(model, x), y);

  // The second call (new options, as a new process would build them) makes no request.
  auto opts2 = options_for(cache.path(), f.write_registry(f.vgg11()["zip"]["sha256"]));
  opts2.trace = &trace;
  auto again = modelzoo::vgg11(true, opts2);
  EXPECT_FALSE(trace.downloaded);
  EXPECT_EQ(f.server().request_count(f.zip_path_on_server()), after);
  expect_close(run(again, x), y);
}

TEST_F(HubE2E, WrongHashRaisesAndLeavesTheCacheEmpty) {
  mz_test::TempDir cache("mz_hub_cache_");
  auto& f = *fixture_;
  const std::string wrong(64, 'a');
  auto opts = options_for(cache.path(), f.write_registry(wrong));
  try {
    modelzoo::vgg11(true, opts);
    FAIL() << "expected HashMismatchError";
  } catch (const modelzoo::HashMismatchError& e) {
    const std::string msg = e.what();
    EXPECT_THAT(msg, HasSubstr("vgg11"));
    EXPECT_THAT(msg, HasSubstr(f.zip_url()));
    EXPECT_THAT(msg, HasSubstr(wrong));
    EXPECT_THAT(msg, HasSubstr(f.vgg11()["zip"]["sha256"].get<std::string>()));
  }
  // Nothing under the final name, no partial download; only the entry's lock file may remain.
  const std::string final_name = f.vgg11()["zip"]["file_name"].get<std::string>();
  for (const auto& entry : fs::directory_iterator(cache.path())) {
    const std::string name = entry.path().filename().string();
    EXPECT_EQ(name, final_name + ".lock") << "left behind: " << name;
  }
}

TEST_F(HubE2E, LegacyFormatLoadsIdentically) {
  mz_test::TempDir cache("mz_hub_cache_");
  auto& f = *fixture_;
  auto opts = options_for(cache.path(), f.write_registry(f.vgg11()["zip"]["sha256"]));
  const auto [x, y] = f.expected();
  auto from_zip = modelzoo::get_model("vgg11", modelzoo::Weights::file(f.vgg11()["zip"]["path"].get<std::string>()), opts);
  auto from_legacy = modelzoo::get_model(
      "vgg11", modelzoo::Weights::url(f.legacy_url(), f.vgg11()["legacy"]["sha256"]), opts);
  // The same parameters, bit for bit. The outputs may differ by rounding:
  // the legacy file's storages are copies (misaligned in the file), whose
  // large convolutions run on their dense weights.
  const auto za = modelzoo::state_dict::state_dict(*from_zip), zb = modelzoo::state_dict::state_dict(*from_legacy);
  ASSERT_EQ(za.size(), zb.size());
  for (const auto& item : za) {
    const at::Tensor* other = zb.find(item.key());
    ASSERT_NE(other, nullptr) << item.key();
    EXPECT_TRUE(at::equal(item.value(), *other)) << item.key();
  }
  const at::Tensor a = run(from_zip, x), b = run(from_legacy, x);
  expect_close(a, b);
  expect_close(b, y);
}

TEST_F(HubE2E, GetModelByNameWithEveryKindOfWeights) {
  mz_test::TempDir cache("mz_hub_cache_");
  auto& f = *fixture_;
  auto opts = options_for(cache.path(), f.write_registry(f.vgg11()["zip"]["sha256"]));
  const auto [x, y] = f.expected();

  auto by_tag = modelzoo::get_model("vgg11", modelzoo::Weights::tag("IMAGENET1K_V1"), opts);
  expect_close(run(by_tag, x), y);
  auto by_default = modelzoo::get_model("vgg11", modelzoo::Weights::parse("DEFAULT"), opts);
  expect_close(run(by_default, x), y);
  auto by_file = modelzoo::get_model("vgg11", modelzoo::Weights::file(f.vgg11()["zip"]["path"].get<std::string>(),
                                                                     f.vgg11()["zip"]["sha256"]), opts);
  expect_close(run(by_file, x), y);

  auto random = modelzoo::get_model("vgg11", modelzoo::Weights::none(), opts);
  EXPECT_TRUE(random->is_training());
  EXPECT_EQ(modelzoo::state_dict::state_dict(*random).size(), modelzoo::state_dict::state_dict(*by_tag).size());

  EXPECT_THROW(modelzoo::get_model("vgg11", modelzoo::Weights::tag("NO_SUCH_TAG"), opts), modelzoo::RegistryError);
  EXPECT_THROW(modelzoo::get_model("no_such_model", modelzoo::Weights::none(), opts), modelzoo::Error);
  EXPECT_THROW(modelzoo::get_model("vgg11", modelzoo::Weights::file(cache.path() / "missing.pth"), opts),
               modelzoo::Error);
  EXPECT_THROW(modelzoo::get_model("vgg11", modelzoo::Weights::file(f.vgg11()["zip"]["path"].get<std::string>(),
                                                                    std::string(64, '0')), opts),
               modelzoo::HashMismatchError);
  EXPECT_THROW(modelzoo::Weights::url(f.zip_url(), ""), modelzoo::Error);
}

TEST_F(HubE2E, OfflineMissingFileNamesModelAndCache) {
  mz_test::TempDir cache("mz_hub_cache_");
  auto& f = *fixture_;
  const auto before = f.server().access_log().size();
  auto opts = options_for(cache.path(), f.write_registry(f.vgg11()["zip"]["sha256"]));
  opts.fetch.offline = true;
  try {
    modelzoo::vgg11(true, opts);
    FAIL() << "expected an error";
  } catch (const modelzoo::Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("vgg11"));
    EXPECT_THAT(e.what(), HasSubstr(cache.path().string()));
  }
  EXPECT_EQ(f.server().access_log().size(), before);
}

// A file the C++ side cached is where Python's torch.hub looks, and loads there;
// a file Python cached is used by C++ without a download.
TEST_F(HubE2E, SharesTheCacheWithPythonTorchHub) {
  auto& f = *fixture_;
  mz_test::TempDir home("mz_torch_home_");
  const fs::path checkpoints = home.path() / "hub" / "checkpoints";

  // C++ -> Python.
  setenv("TORCH_HOME", home.path().c_str(), 1);
  unsetenv("MODELZOO_CACHE");
  const auto cache_opts = modelzoo::cache::CacheOptions::from_env();
  EXPECT_EQ(cache_opts.root, checkpoints);
  auto opts = options_for(cache_opts.root, f.write_registry(f.vgg11()["zip"]["sha256"]));
  modelzoo::vgg11(true, opts);
  const auto after_cpp = f.server().request_count(f.zip_path_on_server());
  const std::string py = std::string("TORCH_HOME=") + mz_test::shell_quote(home.path().string()) + " " +
                         mz_test::python() +
                         " -c 'import sys, torch; sd = torch.hub.load_state_dict_from_url(sys.argv[1], "
                         "progress=False); print(len(sd), float(sd[\"features.0.weight\"].double().sum()))' " +
                         mz_test::shell_quote(f.zip_url());
  const std::string printed = mz_test::must_run(py);
  EXPECT_EQ(f.server().request_count(f.zip_path_on_server()), after_cpp) << "Python downloaded again";
  const auto sd = modelzoo::io::read_state_dict(checkpoints / f.vgg11()["zip"]["file_name"].get<std::string>());
  EXPECT_EQ(std::stoul(printed.substr(0, printed.find(' '))), sd.size());
  EXPECT_NEAR(std::stod(printed.substr(printed.find(' ') + 1)), sd["features.0.weight"].to(at::kDouble).sum().item<double>(), 1e-6);

  // Python -> C++: torch.hub downloads the legacy file; C++ uses it as it is.
  mz_test::TempDir home2("mz_torch_home_");
  const std::string legacy_path = "/legacy/" + f.vgg11()["legacy"]["file_name"].get<std::string>();
  mz_test::must_run(std::string("TORCH_HOME=") + mz_test::shell_quote(home2.path().string()) + " " +
                    mz_test::python() +
                    " -c 'import sys, torch; torch.hub.load_state_dict_from_url(sys.argv[1], progress=False)' " +
                    mz_test::shell_quote(f.legacy_url()));
  const auto after_py = f.server().request_count(legacy_path);
  auto opts2 = options_for(home2.path() / "hub" / "checkpoints", f.write_registry(f.vgg11()["zip"]["sha256"]));
  modelzoo::LoadTrace trace;
  opts2.trace = &trace;
  auto model = modelzoo::get_model("vgg11", modelzoo::Weights::url(f.legacy_url(), f.vgg11()["legacy"]["sha256"]), opts2);
  EXPECT_FALSE(trace.downloaded);
  EXPECT_EQ(f.server().request_count(legacy_path), after_py);
  const auto [x, y] = f.expected();
  expect_close(run(model, x), y);
  unsetenv("TORCH_HOME");
}

}  // namespace

// Pretrained models come back with the inference path installed (timed in the
// trace); HubOptions::optimize = false, or MODELZOO_INFERENCE=plain, leaves it out.
TEST_F(HubE2E, PretrainedModelsRunTheInferencePathUnlessOptedOut) {
  mz_test::TempDir cache("mz_hub_cache_");
  auto& f = *fixture_;
  auto opts = options_for(cache.path(), f.write_registry(f.vgg11()["zip"]["sha256"]));
  const auto [x, y] = f.expected();
  const auto file = modelzoo::Weights::file(f.vgg11()["zip"]["path"].get<std::string>());
  // Convolutions and Linear layers with a kernel (VGG's features may get
  // one of their own as well, on CPUs without AVX-512).
  auto kernels = [](modelzoo::Classifier& m) {
    std::size_t n = 0;
    for (const auto& module : m->modules()) {
      auto* layer = dynamic_cast<modelzoo::models::LayerImpl*>(module.get());
      const bool counted = dynamic_cast<modelzoo::models::Conv2dImpl*>(layer) ||
                           dynamic_cast<modelzoo::models::LinearImpl*>(layer);
      n += counted && layer->inference_kernel() ? 1 : 0;
    }
    return n;
  };
  modelzoo::LoadTrace trace;
  opts.trace = &trace;
  auto fast = modelzoo::get_model("vgg11", file, opts);
  EXPECT_EQ(kernels(fast), 8u + 3u);  // vgg11: 8 convolutions, 3 linear layers
  EXPECT_THAT(trace.optimized, HasSubstr("8 conv"));
  EXPECT_GT(trace.optimize_ms, 0.0);
  EXPECT_GE(trace.total_ms, trace.optimize_ms);
  ASSERT_TRUE(trace.reorder_ms.valid());
  expect_close(run(fast, x), y);
  EXPECT_GT(trace.reorder_ms.get(), 0.0);

  opts.inference.background = false;  // reordered before get_model returns
  auto foreground = modelzoo::get_model("vgg11", file, opts);
  ASSERT_TRUE(trace.reorder_ms.valid());
  EXPECT_EQ(trace.reorder_ms.wait_for(std::chrono::seconds(0)), std::future_status::ready);
  expect_close(run(foreground, x), y);

  opts.optimize = false;
  auto plain = modelzoo::get_model("vgg11", file, opts);
  EXPECT_EQ(kernels(plain), 0u);
  EXPECT_EQ(trace.optimize_ms, 0.0);
  EXPECT_TRUE(trace.optimized.empty());
  EXPECT_FALSE(trace.reorder_ms.valid());
  expect_close(run(plain, x), y);

  ::setenv("MODELZOO_INFERENCE", "plain", 1);
  EXPECT_FALSE(modelzoo::HubOptions::from_env().optimize);
  ::setenv("MODELZOO_INFERENCE", "optimized", 1);
  EXPECT_TRUE(modelzoo::HubOptions::from_env().optimize);
  EXPECT_TRUE(modelzoo::HubOptions::from_env().inference.background);
  EXPECT_TRUE(modelzoo::HubOptions::from_env().inference.winograd);
  ::setenv("MODELZOO_INFERENCE", "foreground", 1);
  EXPECT_TRUE(modelzoo::HubOptions::from_env().optimize);
  EXPECT_FALSE(modelzoo::HubOptions::from_env().inference.background);
  ::setenv("MODELZOO_INFERENCE", "direct", 1);
  EXPECT_TRUE(modelzoo::HubOptions::from_env().optimize);
  EXPECT_TRUE(modelzoo::HubOptions::from_env().inference.background);
  EXPECT_FALSE(modelzoo::HubOptions::from_env().inference.winograd);
  ::setenv("MODELZOO_INFERENCE", "fast", 1);
  try {
    modelzoo::HubOptions::from_env();
    ADD_FAILURE() << "MODELZOO_INFERENCE=fast accepted";
  } catch (const modelzoo::Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("MODELZOO_INFERENCE"));
  }
  ::unsetenv("MODELZOO_INFERENCE");
}
