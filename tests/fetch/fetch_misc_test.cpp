// URL helpers, environment parsing, file:// sources and download_file.
#include "fetch/fetch_util.h"
#include "modelzoo/error.h"

namespace {

namespace fs = std::filesystem;
using namespace mz_fetch_test;
using namespace modelzoo;
using mz_cache_test::EnvGuard;
using mz_cache_test::listing;
using mz_cache_test::pseudo_random_bytes;
using mz_cache_test::read_bytes;
using mz_cache_test::TempDir;
using mz_cache_test::write_bytes;

TEST(SanitizeUrl, StripsCredentialsAndSecretParameters) {
  EXPECT_EQ(fetch::sanitize_url("https://download.pytorch.org/models/vgg19-dcbb9e9d.pth"),
            "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth");
  EXPECT_EQ(fetch::sanitize_url("https://user:pa:ss@host:8443/a/b.pth"), "https://host:8443/a/b.pth");
  EXPECT_EQ(fetch::sanitize_url("https://token@host/a.pth"), "https://host/a.pth");
  EXPECT_EQ(fetch::sanitize_url("https://host/a.pth?token=abc&v=2"), "https://host/a.pth?token=REDACTED&v=2");
  EXPECT_EQ(fetch::sanitize_url("https://b.s3.amazonaws.com/a.pth?X-Amz-Signature=ff&X-Amz-Credential=k"),
            "https://b.s3.amazonaws.com/a.pth?X-Amz-Signature=REDACTED&X-Amz-Credential=REDACTED");
  EXPECT_EQ(fetch::sanitize_url("https://host/a.pth?sig=1&api_key=2&access_token=3&password=4"),
            "https://host/a.pth?sig=REDACTED&api_key=REDACTED&access_token=REDACTED&password=REDACTED");
  EXPECT_EQ(fetch::sanitize_url("https://host/a.pth?download=1#frag"), "https://host/a.pth?download=1");
  EXPECT_EQ(fetch::sanitize_url("https://host/path@with-at/a.pth"), "https://host/path@with-at/a.pth");
  EXPECT_EQ(fetch::sanitize_url("file:///tmp/a.pth"), "file:///tmp/a.pth");
}

TEST(UrlBasename, IsTheLastPathComponent) {
  EXPECT_EQ(fetch::url_basename("https://download.pytorch.org/models/vgg19-dcbb9e9d.pth"), "vgg19-dcbb9e9d.pth");
  EXPECT_EQ(fetch::url_basename("https://host/a/b.pth?x=1#y"), "b.pth");
  EXPECT_EQ(fetch::url_basename("https://host/dir/"), "");
  EXPECT_EQ(fetch::url_basename("https://host"), "");
  EXPECT_EQ(fetch::url_basename("file:///tmp/w.safetensors"), "w.safetensors");
}

TEST(FetchOptionsEnv, ReadsOfflineMirrorsAndCaFile) {
  EnvGuard env;
  env.unset("MODELZOO_OFFLINE");
  env.unset("MODELZOO_MIRROR");
  env.unset("SSL_CERT_FILE");
  auto o = fetch::FetchOptions::from_env();
  EXPECT_FALSE(o.offline);
  EXPECT_TRUE(o.mirrors.empty());
  EXPECT_TRUE(o.ca_file.empty());

  env.set("MODELZOO_OFFLINE", "1");
  env.set("MODELZOO_MIRROR", "http://127.0.0.1:1/a, http://127.0.0.1:2/b/,");
  env.set("SSL_CERT_FILE", "/etc/my-ca.pem");
  o = fetch::FetchOptions::from_env();
  EXPECT_TRUE(o.offline);
  const std::vector<std::string> mirrors = {"http://127.0.0.1:1/a", "http://127.0.0.1:2/b/"};
  EXPECT_EQ(o.mirrors, mirrors);
  EXPECT_EQ(o.ca_file, "/etc/my-ca.pem");

  env.set("MODELZOO_OFFLINE", "0");
  EXPECT_FALSE(fetch::FetchOptions::from_env().offline);
}

TEST_F(FetchTest, SslCertFileFromTheEnvironmentIsUsedForHttps) {
  EnvGuard env;
  env.set("SSL_CERT_FILE", srv().ca_file().string());
  const std::string content = "via SSL_CERT_FILE";
  const std::string path = serve("env-ca.pth", content);
  auto o = fetch::FetchOptions::from_env();
  o.backoff_initial_seconds = 0.01;
  const auto r = fetch::fetch_to_cache(request(srv().https_localhost_url() + path, content), cache_, o);
  EXPECT_EQ(read_bytes(r.path), content);
}

TEST_F(FetchTest, FileUrlIsALocalVerifiedCopy) {
  const std::string content = pseudo_random_bytes(30000, 41);
  write_bytes(tmp_ / "src dir/local.pth", content);
  auto req = request("file://" + (tmp_ / "src%20dir/local.pth").string(), content);
  auto o = fast_options();
  o.offline = true;  // a local file is not the network
  const auto r = fetch::fetch_to_cache(req, cache_, o);
  EXPECT_TRUE(r.downloaded);
  EXPECT_EQ(r.path, cache_dir() / "local.pth");
  EXPECT_EQ(read_bytes(r.path), content);
  EXPECT_EQ(cache_.read_stamp(r.path), digest_of(content));

  TempDir other;
  const cache::Cache other_cache(cache::CacheOptions{other.path(), {}});
  req.expect.sha256 = digest_of("something else");
  req.expect.size.reset();
  EXPECT_THROW(fetch::fetch_to_cache(req, other_cache, o), HashMismatchError);
  const std::vector<std::string> only_lock = {"local.pth.lock"};
  EXPECT_EQ(listing(other.path()), only_lock);

  req.url = "file://" + (tmp_ / "missing.pth").string();
  try {
    fetch::fetch_to_cache(req, other_cache, o);
    FAIL() << "expected FetchError";
  } catch (const FetchError& e) {
    EXPECT_NE(std::string(e.what()).find((tmp_ / "missing.pth").string()), std::string::npos) << e.what();
  }
}

TEST_F(FetchTest, DownloadFileWritesTheDestinationOnly) {
  const std::string content = pseudo_random_bytes(5000, 42);
  const std::string path = serve("plain.bin", content);
  const fs::path dest = tmp_ / "out/plain.bin";
  const auto r = fetch::download_file(srv().http_url() + path, dest, expect_of(content), fast_options(), "plain");
  EXPECT_TRUE(r.downloaded);
  EXPECT_EQ(read_bytes(dest), content);
  EXPECT_FALSE(fs::exists(cache::stamp_path(dest)));

  auto o = fast_options();
  o.offline = true;
  try {
    fetch::download_file(srv().http_url() + path, tmp_ / "out/again.bin", expect_of(content), o, "plain");
    FAIL() << "expected FetchError";
  } catch (const FetchError& e) {
    EXPECT_NE(std::string(e.what()).find("offline"), std::string::npos) << e.what();
  }
  EXPECT_EQ(srv().request_count(path), 1u);
}

}  // namespace
