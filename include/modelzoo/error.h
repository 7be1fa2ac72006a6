#pragma once
/// \file
/// Error types shared by every stage. Each names what was expected and what
/// was found, plus the file, key, URL or field involved.

#include <stdexcept>
#include <string>

namespace modelzoo {

/// Base class of every error modelzoo throws for bad input or failed I/O.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A registry file or entry is invalid, or a name/tag is not registered.
class RegistryError : public Error {
 public:
  using Error::Error;
};

/// The cache could not be read or written (permissions, missing offline file, locks).
class CacheError : public Error {
 public:
  using Error::Error;
};

/// A download failed (HTTP status, network, TLS, offline mode).
class FetchError : public Error {
 public:
  using Error::Error;
};

/// A file's SHA-256 (or size) is not what the registry or caller expected.
class HashMismatchError : public FetchError {
 public:
  using FetchError::FetchError;
};

/// A weight file is malformed, truncated, or in an unsupported format.
class FormatError : public Error {
 public:
  using Error::Error;
};

/// A pickle asked for a global outside the allowlist; nothing was executed.
class UnsafePickleError : public FormatError {
 public:
  using FormatError::FormatError;
};

/// A state dict does not fit a module (missing / unexpected / mismatched keys).
class LoadError : public Error {
 public:
  using Error::Error;
};

}  // namespace modelzoo
