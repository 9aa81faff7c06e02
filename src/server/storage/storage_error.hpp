// What a storage backend throws when the database refuses work, with the kind of failure,
// so that callers can tell the client why (a full disk is not a bug of the server).
#pragma once

#include <stdexcept>
#include <string>

namespace hongyan::storage {

class StorageError : public std::runtime_error {
  public:
    enum class Kind {
        busy,  // locked by another writer past the busy timeout
        full,  // the disk or the database's size limit is full
        other,
    };
    StorageError(Kind kind, const std::string& what) : std::runtime_error(what), kind_(kind) {}
    Kind kind() const { return kind_; }

  private:
    Kind kind_;
};

// Text for a client whose request failed with `e` (no internals, just what happened).
inline std::string storage_failure_text(const std::exception& e) {
    if (auto* s = dynamic_cast<const StorageError*>(&e)) {
        if (s->kind() == StorageError::Kind::full) return "the server's storage is full";
        if (s->kind() == StorageError::Kind::busy) return "the server's storage is busy; try again";
    }
    return "the server could not store or read this now; try again";
}

}  // namespace hongyan::storage
