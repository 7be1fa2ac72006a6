// Verified publication of bytes that did not come from a download: temporary
// file beside the target, SHA-256 while copying, check, rename under the lock.
#include "modelzoo/cache/publish.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

#include "modelzoo/cache/sha256.h"
#include "modelzoo/error.h"

namespace modelzoo::cache {

namespace fs = std::filesystem;

namespace {

/// Owns a file descriptor.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  /// Closes now; false when close() reported an error (lost write-back).
  bool close() {
    const int fd = fd_;
    fd_ = -1;
    return fd < 0 || ::close(fd) == 0;
  }

 private:
  int fd_;
};

bool write_all(int fd, const char* data, std::size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, data, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

/// `<root>/<name>.<pid>.<n>.mztmp`, kept under NAME_MAX however long the name.
fs::path temp_name_for(const fs::path& target) {
  static std::atomic<unsigned> counter{0};
  std::string stem = target.filename().string();
  if (stem.size() > 200) stem.resize(200);
  return target.parent_path() /
         (stem + "." + std::to_string(::getpid()) + "." + std::to_string(counter++) + ".mztmp");
}

}  // namespace

ByteSource file_source(const fs::path& file) {
  auto fd = std::make_shared<Fd>(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd->get() < 0) throw CacheError("cannot open " + file.string() + ": " + std::strerror(errno));
  return [fd, file](char* buf, std::size_t n) -> std::size_t {
    for (;;) {
      const ssize_t r = ::read(fd->get(), buf, n);
      if (r >= 0) return static_cast<std::size_t>(r);
      if (errno != EINTR) throw CacheError("cannot read " + file.string() + ": " + std::strerror(errno));
    }
  };
}

StagedFile::~StagedFile() {
  if (!temp_.empty()) {
    std::error_code ec;
    fs::remove(temp_, ec);
  }
}

StagedFile::StagedFile(StagedFile&& o) noexcept
    : cache_(o.cache_), target_(std::move(o.target_)), temp_(std::move(o.temp_)),
      sha256_(std::move(o.sha256_)), size_(o.size_) {
  o.temp_.clear();
}

StagedFile& StagedFile::operator=(StagedFile&& o) noexcept {
  if (this != &o) {
    if (!temp_.empty()) {
      std::error_code ec;
      fs::remove(temp_, ec);
    }
    cache_ = o.cache_;
    target_ = std::move(o.target_);
    temp_ = std::move(o.temp_);
    sha256_ = std::move(o.sha256_);
    size_ = o.size_;
    o.temp_.clear();
  }
  return *this;
}

fs::path StagedFile::publish() {
  if (temp_.empty() || cache_ == nullptr) {
    throw CacheError("cannot publish " + target_.string() + ": nothing staged (already published?)");
  }
  EntryLock lock(target_);
  std::error_code ec;
  fs::remove(stamp_path(target_), ec);  // a previous file's stamp must never describe this one
  fs::rename(temp_, target_, ec);
  if (ec) {
    throw CacheError("cannot move the verified " + temp_.string() + " to " + target_.string() + ": " +
                     ec.message());
  }
  temp_.clear();
  // A download left behind for this name is now pointless.
  fs::remove(fs::path(target_.string() + ".part"), ec);
  fs::remove(fs::path(target_.string() + ".part.meta"), ec);
  cache_->write_stamp(target_, sha256_);
  return target_;
}

fs::path StagedFile::release() {
  fs::path t = std::move(temp_);
  temp_.clear();
  cache_ = nullptr;
  return t;
}

StagedFile stage_verified(const Cache& cache, const std::string& file_name, const Expectation& expect,
                          const ByteSource& source, const std::string& label) {
  const fs::path target = cache.target_path(file_name);
  const std::string what = label.empty() ? file_name : label;
  std::error_code ec;
  fs::create_directories(target.parent_path(), ec);
  if (ec) {
    throw CacheError("cannot create the cache directory " + target.parent_path().string() + ": " + ec.message());
  }

  StagedFile staged;
  staged.cache_ = &cache;
  staged.target_ = target;
  const fs::path temp = temp_name_for(target);
  Fd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (fd.get() < 0) {
    throw CacheError("cannot create " + temp.string() + " for " + what + ": " + std::strerror(errno));
  }
  staged.temp_ = temp;  // from here on the destructor cleans up

  Sha256 hasher;
  uint64_t bytes = 0;
  std::vector<char> buf(4 << 20);
  for (;;) {
    const std::size_t n = source(buf.data(), buf.size());
    if (n == 0) break;
    if (expect.size && bytes + n > *expect.size) {
      throw HashMismatchError("size mismatch for " + what + ": expected " + std::to_string(*expect.size) +
                              " bytes, got more than that; nothing was written to " + target.string());
    }
    if (!write_all(fd.get(), buf.data(), n)) {
      throw CacheError("cannot write " + temp.string() + " for " + what + ": " + std::strerror(errno));
    }
    hasher.update(buf.data(), n);
    bytes += n;
  }
  if (::fdatasync(fd.get()) != 0 && errno != EINVAL) {
    throw CacheError("cannot flush " + temp.string() + " for " + what + ": " + std::strerror(errno));
  }
  if (!fd.close()) {
    throw CacheError("cannot close " + temp.string() + " for " + what + ": " + std::strerror(errno));
  }
  if (expect.size && bytes != *expect.size) {
    throw HashMismatchError("size mismatch for " + what + ": expected " + std::to_string(*expect.size) +
                            " bytes, got " + std::to_string(bytes) + "; nothing was written to " +
                            target.string());
  }
  staged.sha256_ = hasher.hex_digest();
  staged.size_ = bytes;
  if (!digest_matches(expect, staged.sha256_)) {
    throw HashMismatchError("sha256 mismatch for " + what + ": expected " + lower(expect.sha256) +
                            (expect.sha256_is_prefix ? " (prefix)" : "") + ", got " + staged.sha256_ +
                            "; nothing was written to " + target.string());
  }
  return staged;
}

fs::path publish_verified(const Cache& cache, const std::string& file_name, const Expectation& expect,
                          const ByteSource& source, const std::string& label) {
  StagedFile staged = stage_verified(cache, file_name, expect, source, label);
  return staged.publish();
}

}  // namespace modelzoo::cache
