#pragma once
/// \file
/// The shared corpus of real-world weight files (`real/`) and what Python's
/// torch.load returned for each (`expected/`). It is not part of the
/// project: tests that use it find it through MODELZOO_CORPUS_DIR (default:
/// `shared/corpus` beside the source tree, i.e. `../shared/corpus`) and skip,
/// naming the directory, when it is absent.

#include <filesystem>
#include <string>

#include <gtest/gtest.h>

namespace mz_test {

/// $MODELZOO_CORPUS_DIR when set and non-empty, else the default
/// (`<source>/../shared/corpus`, MZ_CORPUS_DIR at build time).
std::filesystem::path corpus_dir();

/// Empty when corpus_dir() has `real/` and `expected/`; otherwise why the
/// corpus tests skip (the directory that is missing and the variable to set).
std::string corpus_missing();

}  // namespace mz_test

/// Skips the current test, with corpus_missing()'s message, when the corpus is absent.
#define MZ_REQUIRE_CORPUS()                                                  \
  do {                                                                       \
    const std::string mz_corpus_missing_ = ::mz_test::corpus_missing();      \
    if (!mz_corpus_missing_.empty()) GTEST_SKIP() << mz_corpus_missing_;     \
  } while (0)
