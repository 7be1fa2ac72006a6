// Tests of the loopback nginx harness itself (tests/support/nginx_server.h),
// driven with plain libcurl so they do not depend on the fetch stage.
#include <curl/curl.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "support/nginx_server.h"

namespace {

struct Reply {
  CURLcode code = CURLE_OK;
  long status = 0;
  std::string body;
  std::string headers;
};

size_t append(char* p, size_t s, size_t n, void* ud) {
  static_cast<std::string*>(ud)->append(p, s * n);
  return s * n;
}

Reply get(const std::string& url, const std::string& ca = "", const std::vector<std::string>& extra = {}) {
  Reply r;
  CURL* h = curl_easy_init();
  curl_slist* list = nullptr;
  for (const auto& e : extra) list = curl_slist_append(list, e.c_str());
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_PROXY, "");
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, append);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &r.body);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, append);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &r.headers);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(h, CURLOPT_TIMEOUT, 20L);
  if (!ca.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, ca.c_str());
  r.code = curl_easy_perform(h);
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r.status);
  curl_slist_free_all(list);
  curl_easy_cleanup(h);
  return r;
}

mz_test::NginxServer& srv() { return mz_test::NginxEnvironment::server(); }

// Each test instance gets its own directory, so request counts stay per test
// even when tests repeat within one process (the server is shared).
class NginxHarness : public ::testing::Test {
 protected:
  NginxHarness() {
    static int instances = 0;
    d_ = std::string("harness-") + ::testing::UnitTest::GetInstance()->current_test_info()->name() + "-" +
         std::to_string(instances++);
  }
  std::string d_;
};

TEST_F(NginxHarness, ServesStaticFilesOverHttpAndCountsRequests) {
  srv().write_file(d_ + "/static.txt", "hello loopback");
  const Reply r = get(srv().http_url() + "/" + d_ + "/static.txt");
  ASSERT_EQ(r.code, CURLE_OK) << curl_easy_strerror(r.code);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "hello loopback");
  const auto log = srv().requests("/" + d_ + "/static.txt");
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].status, 200);
  EXPECT_EQ(log[0].method, "GET");
  EXPECT_EQ(log[0].body_bytes, 14u);
  EXPECT_EQ(log[0].range, "");
}

TEST_F(NginxHarness, HttpsVerifiesAgainstGeneratedCa) {
  srv().write_file(d_ + "/tls.txt", "secret-free");
  const Reply ok = get(srv().https_url() + "/" + d_ + "/tls.txt", srv().ca_file().string());
  ASSERT_EQ(ok.code, CURLE_OK) << curl_easy_strerror(ok.code);
  EXPECT_EQ(ok.body, "secret-free");
  const Reply by_name = get(srv().https_localhost_url() + "/" + d_ + "/tls.txt", srv().ca_file().string());
  ASSERT_EQ(by_name.code, CURLE_OK) << curl_easy_strerror(by_name.code);
  EXPECT_EQ(by_name.body, "secret-free");
  // Without the CA the system trust store does not know the server certificate.
  const Reply bad = get(srv().https_url() + "/" + d_ + "/tls.txt", "/etc/ssl/certs/ca-certificates.crt");
  EXPECT_EQ(bad.code, CURLE_PEER_FAILED_VERIFICATION) << curl_easy_strerror(bad.code);
}

TEST_F(NginxHarness, RangeRequestsAreAnsweredAndLogged) {
  srv().write_file(d_ + "/range.bin", "0123456789");
  const Reply r = get(srv().http_url() + "/" + d_ + "/range.bin", "", {"Range: bytes=4-"});
  ASSERT_EQ(r.code, CURLE_OK);
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.body, "456789");
  const auto log = srv().requests("/" + d_ + "/range.bin");
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0].status, 206);
  EXPECT_EQ(log[0].range, "bytes=4-");
}

TEST_F(NginxHarness, StatusLocationsAnswerFixedCodes) {
  for (long code : {403L, 404L, 500L}) {
    const Reply r = get(srv().http_url() + "/status/" + std::to_string(code) + "/x.bin");
    EXPECT_EQ(r.status, code);
  }
  const Reply busy = get(srv().http_url() + "/status/503/x.bin");
  EXPECT_EQ(busy.status, 503);
  EXPECT_NE(busy.headers.find("Retry-After: 1"), std::string::npos) << busy.headers;
  const Reply many = get(srv().http_url() + "/status/429/x.bin");
  EXPECT_EQ(many.status, 429);
  EXPECT_NE(many.headers.find("Retry-After: 1"), std::string::npos) << many.headers;
}

TEST_F(NginxHarness, FlakyLocationFailsFirstRequestsThenServes) {
  srv().write_file(d_ + "/flaky.bin", "eventually");
  const std::string url = srv().https_url() + "/flaky/503/2/" + d_ + "/flaky.bin";
  const std::string ca = srv().ca_file().string();
  EXPECT_EQ(get(url, ca).status, 503);
  EXPECT_EQ(get(url, ca).status, 503);
  const Reply ok = get(url, ca);
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body, "eventually");
  const Reply range = get(url, ca, {"Range: bytes=5-"});
  EXPECT_EQ(range.status, 206);
  EXPECT_EQ(range.body, "ually");
  EXPECT_EQ(srv().request_count("/flaky/503/2/" + d_ + "/flaky.bin"), 4u);
  srv().reset_counters();
  EXPECT_EQ(get(url, ca).status, 503);
}

TEST_F(NginxHarness, TruncateLocationCutsTheFirstBodyShort) {
  const std::string content(100000, 'z');
  srv().write_file(d_ + "/trunc.bin", content);
  const std::string url = srv().http_url() + "/truncate/1/1000/" + d_ + "/trunc.bin";
  const Reply cut = get(url);
  EXPECT_EQ(cut.code, CURLE_PARTIAL_FILE) << curl_easy_strerror(cut.code);
  EXPECT_LT(cut.body.size(), content.size());
  const Reply full = get(url);
  ASSERT_EQ(full.code, CURLE_OK) << curl_easy_strerror(full.code);
  EXPECT_EQ(full.body, content);
}

TEST_F(NginxHarness, ShortlenAnnouncesFewerBytesThanTheBody) {
  const std::string content(5000, 'q');
  srv().write_file(d_ + "/long.bin", content);
  const Reply r = get(srv().http_url() + "/shortlen/1000/" + d_ + "/long.bin");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.headers.find("Content-Length: 4000"), std::string::npos) << r.headers;
  EXPECT_EQ(r.body, content.substr(0, 4000));  // a client reads what was announced
}

TEST_F(NginxHarness, LoopRedirectsToItself) {
  const std::string path = "/loop/" + d_ + "/x.bin";
  const Reply r = get(srv().http_url() + path);
  EXPECT_EQ(r.status, 302);
  EXPECT_NE(r.headers.find("Location: " + srv().http_url() + path), std::string::npos) << r.headers;
}

TEST_F(NginxHarness, Html200AnswersAWebPage) {
  const Reply r = get(srv().http_url() + "/html200/" + d_ + "/x.pth");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.headers.find("Content-Type: text/html"), std::string::npos) << r.headers;
  EXPECT_EQ(r.body.rfind("<!DOCTYPE html>", 0), 0u) << r.body;
}

TEST_F(NginxHarness, ResetAndStallCutTheFirstBodies) {
  const std::string content(300000, 'r');
  srv().write_file(d_ + "/rs.bin", content);
  const std::string reset = "/reset/1/1000/" + d_ + "/rs.bin";
  const Reply cut = get(srv().backend_url() + reset);
  EXPECT_EQ(cut.code, CURLE_RECV_ERROR) << curl_easy_strerror(cut.code);
  const Reply full = get(srv().backend_url() + reset);
  ASSERT_EQ(full.code, CURLE_OK) << curl_easy_strerror(full.code);
  EXPECT_EQ(full.body, content);
  const auto log = srv().backend_requests(reset);
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0].body_bytes, 1000u);
  EXPECT_EQ(log[1].body_bytes, content.size());

  // A stalled body: the client's own timeout ends it; the next request is served.
  const std::string stall = "/stall/1/1000/" + d_ + "/rs.bin";
  CURL* h = curl_easy_init();
  std::string body;
  const std::string url = srv().http_url() + stall;
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_PROXY, "");
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, append);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 700L);
  EXPECT_EQ(curl_easy_perform(h), CURLE_OPERATION_TIMEDOUT);
  curl_easy_cleanup(h);
  EXPECT_EQ(body.size(), 1000u);
  EXPECT_EQ(srv().backend_hits(stall), 1);
  EXPECT_EQ(get(srv().http_url() + stall).body, content);
}

}  // namespace
