#include "cache_tool/tool_util.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

#include <gtest/gtest.h>

#include "modelzoo/cache/sha256.h"

namespace ct_test {

// One nginx per test process, started on first use.
static auto* const kNginx = ::testing::AddGlobalTestEnvironment(new mz_test::NginxEnvironment);

json ToolRun::doc() const {
  try {
    return json::parse(out);
  } catch (const json::exception& e) {
    ADD_FAILURE() << "stdout is not JSON (" << e.what() << "):\n" << out << "\nstderr:\n" << err;
    return json::object();
  }
}

ToolRun run_tool(const std::vector<std::string>& args, const Env& env) {
  static mz_test::TempDir scratch("mz_ct_run_");
  static std::atomic<unsigned> counter{0};
  const fs::path err_file = scratch.path() / ("err" + std::to_string(counter++));
  std::string cmd = "env";
  for (const char* var : {"MODELZOO_CACHE", "MODELZOO_REGISTRY", "MODELZOO_OFFLINE", "MODELZOO_MIRROR",
                          "MODELZOO_READONLY_CACHES", "TORCH_HOME", "XDG_CACHE_HOME", "HF_HUB_CACHE",
                          "HUGGINGFACE_HUB_CACHE", "HF_HOME", "HF_ENDPOINT", "HF_TOKEN", "HF_TOKEN_PATH",
                          "HF_HUB_OFFLINE", "MODELZOO_HF_MIRROR"}) {
    cmd += std::string(" -u ") + var;
  }
  cmd += " HOME=" + mz_test::shell_quote(scratch.path().string());
  for (const auto& [k, v] : env) {
    if (!v.empty()) cmd += " " + k + "=" + mz_test::shell_quote(v);
  }
  cmd += " " + mz_test::shell_quote(MZ_CACHE_TOOL_BIN);
  for (const auto& a : args) cmd += " " + mz_test::shell_quote(a);
  cmd += " 2>" + mz_test::shell_quote(err_file.string()) + " </dev/null";
  const auto r = mz_test::run_command(cmd);
  ToolRun run;
  run.exit_code = r.exit_code;
  run.out = r.out;
  run.err = read_file(err_file);
  return run;
}

mz_test::NginxServer& server() { return mz_test::NginxEnvironment::server(); }

std::string sha256_hex(const std::string& bytes) {
  modelzoo::cache::Sha256 h;
  h.update(bytes.data(), bytes.size());
  return h.hex_digest();
}

std::string random_bytes(std::size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng() & 0xff);
  return s;
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return "";
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file(const fs::path& p, const std::string& bytes) {
  if (p.has_parent_path()) fs::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + p.string());
}

std::string Served::server_path() const { return "/ct/" + file_name; }

Sandbox::Sandbox(const std::string& prefix) : tmp_(prefix) {
  doc_ = {{"format_version", 1}, {"models", json::object()}};
  save();
}

std::vector<std::string> Sandbox::args(const std::vector<std::string>& rest) const {
  std::vector<std::string> a = {"--cache-dir", cache().string(), "--registry", registry().string()};
  a.insert(a.end(), rest.begin(), rest.end());
  return a;
}

ToolRun Sandbox::tool(const std::vector<std::string>& rest, const Env& env) const { return run_tool(args(rest), env); }

Served Sandbox::serve(const std::string& model, const std::string& tag, const std::string& bytes) {
  static std::atomic<unsigned> counter{0};
  Served s;
  s.model = model;
  s.tag = tag;
  s.bytes = bytes;
  s.sha256 = sha256_hex(bytes);
  s.file_name = model + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-" +
                s.sha256.substr(0, 8) + ".pth";
  server().write_file("ct/" + s.file_name, bytes);
  s.url = server().http_url() + s.server_path();
  add_entry(model, tag, s.url, s.sha256, bytes.size(), s.file_name);
  return s;
}

void Sandbox::add_entry(const std::string& model, const std::string& tag, const std::string& url,
                        const std::string& sha256, uint64_t size, const std::string& file_name) {
  json w = {{"url", url}, {"sha256", sha256}, {"size", size}};
  if (!file_name.empty()) w["file_name"] = file_name;
  doc_["models"][model]["weights"][tag] = w;
  save();
}

void Sandbox::save() const { write_file(registry(), doc_.dump(2)); }

namespace {

void put_octal(std::string& h, std::size_t off, std::size_t width, uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%0*llo", static_cast<int>(width - 1), static_cast<unsigned long long>(v));
  std::memcpy(&h[off], buf, width - 1);
}

}  // namespace

std::string tar_member(const std::string& name, const std::string& data, char type, const std::string& link) {
  std::string h(512, '\0');
  std::memcpy(&h[0], name.data(), std::min<std::size_t>(100, name.size()));
  put_octal(h, 100, 8, 0644);
  put_octal(h, 108, 8, 0);
  put_octal(h, 116, 8, 0);
  put_octal(h, 124, 12, data.size());
  put_octal(h, 136, 12, 1700000000);
  h[156] = type;
  std::memcpy(&h[157], link.data(), std::min<std::size_t>(100, link.size()));
  std::memcpy(&h[257], "ustar", 6);
  std::memcpy(&h[263], "00", 2);
  std::memset(&h[148], ' ', 8);
  unsigned sum = 0;
  for (unsigned char c : h) sum += c;
  char chk[8];
  std::snprintf(chk, sizeof chk, "%06o", sum);
  std::memcpy(&h[148], chk, 7);
  std::string pad((512 - data.size() % 512) % 512, '\0');
  return h + data + pad;
}

std::string tar_end() { return std::string(1024, '\0'); }

std::vector<std::string> files_under(const fs::path& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  if (!fs::exists(dir, ec)) return out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_directory()) out.push_back(fs::relative(e.path(), dir).string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace ct_test
