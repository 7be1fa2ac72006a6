#include "modelzoo/cache/sha256.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "modelzoo/error.h"

namespace modelzoo::cache {

struct Sha256::Impl {
  EVP_MD_CTX* ctx = nullptr;
  bool finished = false;
  ~Impl() { EVP_MD_CTX_free(ctx); }
};

Sha256::Sha256() : impl_(std::make_unique<Impl>()) {
  impl_->ctx = EVP_MD_CTX_new();
  if (impl_->ctx == nullptr || EVP_DigestInit_ex(impl_->ctx, EVP_sha256(), nullptr) != 1) {
    throw Error("SHA-256: OpenSSL could not initialise a digest context");
  }
}

Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;

void Sha256::update(const void* data, std::size_t n) {
  if (impl_->finished) throw Error("SHA-256: update() called after hex_digest()");
  if (n == 0) return;
  if (EVP_DigestUpdate(impl_->ctx, data, n) != 1) throw Error("SHA-256: OpenSSL digest update failed");
}

std::string Sha256::hex_digest() {
  if (impl_->finished) throw Error("SHA-256: hex_digest() called twice");
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(impl_->ctx, md, &len) != 1) throw Error("SHA-256: OpenSSL digest final failed");
  impl_->finished = true;
  static const char* hex = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 15];
  }
  return out;
}

std::string sha256_file(const std::filesystem::path& file, uint64_t limit) {
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    throw CacheError("cannot open " + file.string() + " to hash it: " + std::strerror(errno));
  }
  Sha256 h;
  std::vector<char> buf(1 << 20);
  uint64_t left = limit;
  while (left > 0) {
    const std::size_t want = static_cast<std::size_t>(std::min<uint64_t>(left, buf.size()));
    const ssize_t n = ::read(fd, buf.data(), want);
    if (n < 0) {
      if (errno == EINTR) continue;
      const std::string why = std::strerror(errno);
      ::close(fd);
      throw CacheError("cannot read " + file.string() + " to hash it: " + why);
    }
    if (n == 0) break;
    h.update(buf.data(), static_cast<std::size_t>(n));
    left -= static_cast<uint64_t>(n);
  }
  ::close(fd);
  if (limit != UINT64_MAX && left != 0) {
    throw CacheError("cannot hash the first " + std::to_string(limit) + " bytes of " + file.string() +
                     ": the file has only " + std::to_string(limit - left) + " bytes");
  }
  return h.hex_digest();
}

}  // namespace modelzoo::cache
