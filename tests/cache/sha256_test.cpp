#include "modelzoo/cache/sha256.h"

#include <gtest/gtest.h>

#include <string>

#include "cache/test_util.h"
#include "modelzoo/error.h"

namespace {

using modelzoo::cache::Sha256;
using modelzoo::cache::sha256_file;
using namespace mz_cache_test;

std::string digest_of(const std::string& s) {
  Sha256 h;
  h.update(s.data(), s.size());
  return h.hex_digest();
}

TEST(Sha256, KnownVectors) {
  EXPECT_EQ(digest_of(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(digest_of("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(digest_of("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(digest_of(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256, IncrementalUpdatesEqualOneShot) {
  const std::string data = pseudo_random_bytes(10000, 7);
  const std::string whole = digest_of(data);
  for (std::size_t split : {0u, 1u, 63u, 64u, 65u, 4999u, 10000u}) {
    Sha256 h;
    h.update(data.data(), split);
    h.update(data.data() + split, data.size() - split);
    EXPECT_EQ(h.hex_digest(), whole) << "split at " << split;
  }
}

TEST(Sha256, MovedObjectKeepsItsState) {
  Sha256 a;
  a.update("ab", 2);
  Sha256 b(std::move(a));
  b.update("c", 1);
  EXPECT_EQ(b.hex_digest(), digest_of("abc"));
}

TEST(Sha256, UseAfterDigestIsRefused) {
  Sha256 h;
  h.update("x", 1);
  (void)h.hex_digest();
  EXPECT_THROW(h.update("y", 1), modelzoo::Error);
  EXPECT_THROW((void)h.hex_digest(), modelzoo::Error);
}

TEST(Sha256, FileAndPrefixOfFile) {
  TempDir dir;
  const std::string data = pseudo_random_bytes(3 * 1024 * 1024 + 17, 3);  // spans several read buffers
  write_bytes(dir / "blob.bin", data);
  EXPECT_EQ(sha256_file(dir / "blob.bin"), digest_of(data));
  EXPECT_EQ(sha256_file(dir / "blob.bin", 1000), digest_of(data.substr(0, 1000)));
  EXPECT_EQ(sha256_file(dir / "blob.bin", 0), digest_of(""));
}

TEST(Sha256, MissingFileErrorNamesThePath) {
  TempDir dir;
  try {
    (void)sha256_file(dir / "nope.bin");
    FAIL() << "expected CacheError";
  } catch (const modelzoo::CacheError& e) {
    EXPECT_NE(std::string(e.what()).find("nope.bin"), std::string::npos) << e.what();
  }
}

TEST(Sha256, PrefixLongerThanFileIsAnError) {
  TempDir dir;
  write_bytes(dir / "short.bin", "12345");
  try {
    (void)sha256_file(dir / "short.bin", 10);
    FAIL() << "expected CacheError";
  } catch (const modelzoo::CacheError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("short.bin"), std::string::npos) << msg;
    EXPECT_NE(msg.find("10"), std::string::npos) << msg;
    EXPECT_NE(msg.find("5"), std::string::npos) << msg;
  }
}

}  // namespace
