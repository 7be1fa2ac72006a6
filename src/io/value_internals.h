#pragma once
// Internal to the io stage: what the unpickler needs from Value beyond its
// public interface, to find and break reference cycles (a list appended to
// itself through the memo) so that refusing such a pickle leaks nothing.

#include <cstddef>
#include <memory>
#include <vector>

#include "modelzoo/io/value.h"

namespace modelzoo::io {

struct ValueInternals {
  // The containers one unpickling created, held weakly.
  class Log {
   public:
    // Records v's container when v is one and this handle is its only owner
    // (a container just made, not one fetched again from the memo).
    void add_if_new(const Value& v);
    // Whether any recorded container that is still alive reaches itself.
    bool has_cycle() const;
    // Empties every recorded container that is still alive (items, entries,
    // attributes), which frees any cycle among them.
    void break_all();
    // Containers recorded so far.
    std::size_t size() const { return seqs_.size() + maps_.size(); }

   private:
    std::vector<std::weak_ptr<Value::Seq>> seqs_;
    std::vector<std::weak_ptr<Value::Map>> maps_;
  };
};

}  // namespace modelzoo::io
