// The workflow cache_tool exists for, end to end. Machine A (cache A, a
// loopback nginx standing in for the internet) fetches a model's weights and
// packs them; machine B (a fresh cache B, MODELZOO_OFFLINE=1, the server
// stopped) unpacks the bundle, and a C++ program loads the model from cache B
// and gets exactly the outputs it gets from cache A, with no request reaching
// the server after it stopped.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <thread>

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>

#include "cache_tool/tool_util.h"
#include "modelzoo/hub/hub.h"
#include "modelzoo/io/io.h"

namespace ct_test {
namespace {

using ::testing::HasSubstr;

// A small architecture, so the test stays fast (about 10 MB of weights).
constexpr const char* kArch = "mobilenet_v3_small";
constexpr const char* kModel = "airgap_mobilenet";  // a user's own model name
constexpr const char* kTag = "FINETUNED_V1";

bool accepts_connections(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

/// Stops nginx (it is this process's child) but keeps its directory, so the
/// access log can still be read; the server object reaps it later.
void stop_nginx(mz_test::NginxServer& srv) {
  ASSERT_EQ(::kill(static_cast<pid_t>(srv.pid()), SIGQUIT), 0);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (accepts_connections(srv.http_port())) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "nginx did not stop";
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

at::Tensor run(modelzoo::Classifier model, const at::Tensor& x) {
  c10::NoGradGuard no_grad;
  return model->forward(x);
}

TEST(CacheToolAirGap, FetchPackThenUnpackOfflineGivesTheSameModel) {
  const fs::path fixdir = fs::path(MZ_BINARY_DIR) / "fixtures" / "cache_tool_airgap";
  const json fixture = mz_test::cached_fixture(fixdir, fs::path(MZ_SOURCE_DIR) / "tests" / "oracle" / "hub_fixture.py",
                                               kArch)[kArch];
  const json& weights = fixture["zip"];
  const std::string file_name = weights["file_name"];
  mz_test::NginxOptions o;
  o.docroot = fixdir;
  auto srv = std::make_unique<mz_test::NginxServer>(o);

  // The user's registry on machine A: their own model name on the mobilenet architecture.
  mz_test::TempDir machine_a("mz_ct_machineA_"), machine_b("mz_ct_machineB_");
  const fs::path registry = machine_a.path() / "my_models.json";
  const json doc = {{"format_version", 1},
                    {"models",
                     {{kModel,
                       {{"arch", kArch},
                        {"default", kTag},
                        {"weights",
                         {{kTag,
                           {{"url", srv->http_url() + "/" + file_name},
                            {"sha256", weights["sha256"]},
                            {"size", weights["size"]},
                            {"categories", nullptr},
                            {"meta", {{"recipe", "fine-tuned in house"}}}}}}}}}}}};
  write_file(registry, doc.dump(2));
  const fs::path cache_a = machine_a.path() / "cache", cache_b = machine_b.path() / "cache";
  const fs::path bundle = machine_a.path() / "transfer" / "models.tar";
  fs::create_directories(bundle.parent_path());

  // Machine A: fetch, then pack.
  const ToolRun fetch = run_tool({"--cache-dir", cache_a.string(), "--registry", registry.string(), "fetch", kModel});
  ASSERT_EQ(fetch.exit_code, 0) << fetch.err;
  // One download (over parallel ranges when the file is large enough).
  const std::size_t fetch_requests = srv->request_count("/" + file_name);
  EXPECT_GE(fetch_requests, 1u);
  const ToolRun pack = run_tool({"--cache-dir", cache_a.string(), "--registry", registry.string(), "--json", "pack", kModel,
                             "-o", bundle.string()});
  ASSERT_EQ(pack.exit_code, 0) << pack.err;
  EXPECT_EQ(pack.doc()["registry_fragment"], true);

  // The network goes away.
  const std::size_t requests_before_stop = srv->access_log().size();
  stop_nginx(*srv);

  // Machine B: a fresh cache, offline, no user registry: only the bundle.
  const ToolRun unpack = run_tool({"--cache-dir", cache_b.string(), "--json", "unpack", bundle.string()},
                              {{"MODELZOO_OFFLINE", "1"}});
  ASSERT_EQ(unpack.exit_code, 0) << unpack.err;
  const json ud = unpack.doc();
  ASSERT_EQ(ud["files"].size(), 1u);
  EXPECT_EQ(ud["files"][0]["status"], "unpacked");
  const fs::path fragment = ud["registry_file"].get<std::string>();
  EXPECT_EQ(read_file(cache_b / file_name), read_file(cache_a / file_name));
  const ToolRun verify = run_tool({"--cache-dir", cache_b.string(), "--registry", fragment.string(), "verify", kModel},
                              {{"MODELZOO_OFFLINE", "1"}});
  EXPECT_EQ(verify.exit_code, 0) << verify.err;

  // The C++ program on machine B: the registry entries from the bundle, cache B, offline.
  modelzoo::HubOptions on_b;
  on_b.registry = modelzoo::registry::Registry::builtin();
  on_b.registry.add_file(fragment);
  on_b.cache.root = cache_b;
  on_b.fetch.offline = true;
  modelzoo::LoadTrace trace_b;
  on_b.trace = &trace_b;
  const auto model_b = modelzoo::get_model(kModel, modelzoo::Weights::default_weights(), on_b);
  EXPECT_FALSE(trace_b.downloaded);
  EXPECT_EQ(trace_b.file, cache_b / file_name);
  EXPECT_EQ(on_b.registry.require(kModel).find_weights(kTag)->meta["recipe"], "fine-tuned in house");

  // The same program on machine A, from cache A.
  modelzoo::HubOptions on_a;
  on_a.registry = modelzoo::registry::Registry::builtin();
  on_a.registry.add_file(registry);
  on_a.cache.root = cache_a;
  on_a.fetch.offline = true;
  const auto model_a = modelzoo::get_model(kModel, modelzoo::Weights::default_weights(), on_a);

  const auto expected = modelzoo::io::read(fixture["expected"].get<std::string>());
  const at::Tensor x = expected.at("input").as_tensor();
  const at::Tensor ya = run(model_a, x), yb = run(model_b, x);
  ASSERT_EQ(ya.sizes(), (std::vector<int64_t>{2, 1000}));
  EXPECT_TRUE(at::equal(ya, yb)) << "max difference " << (ya - yb).abs().max().item<double>();
  // ... and they are the packed weights, not a random initialisation.
  const auto random = modelzoo::get_model(kModel, modelzoo::Weights::none(), on_b);
  EXPECT_FALSE(at::allclose(run(random, x), yb));

  // Zero requests after the stop (and B never needed the server at all).
  const auto log = srv->access_log();
  EXPECT_EQ(log.size(), requests_before_stop);
  EXPECT_EQ(srv->request_count("/" + file_name), fetch_requests) << "only machine A's fetch";
}

}  // namespace
}  // namespace ct_test
