// The archive's SQL, shared by the SQLite and PostgreSQL stores: they differ in their
// placeholders (? against $1) and how they read a row, not in the query.
#pragma once

#include <algorithm>
#include <functional>
#include <string>
#include <variant>
#include <vector>

#include "server/storage/archive_store.hpp"

namespace hongyan::storage {

// The columns every archive read selects, in ArchivedMessage's order.
inline constexpr const char* kArchiveColumns =
    "SELECT seq, id, time_us, with_bare, with_resource, outgoing, stanza";

struct ArchiveSql {
    using Arg = std::variant<std::string, std::int64_t>;
    std::string sql;
    std::vector<Arg> args;
};

// The query for `q` on `user`'s archive; placeholder(n) writes the n-th (from 1).
ArchiveSql archive_select(const std::string& user, const ArchiveQuery& q,
                          const std::function<std::string(std::size_t)>& placeholder);
// The page from the rows archive_select() found (one more than max when there are more).
ArchivePage archive_page(std::vector<ArchivedMessage> rows, const ArchiveQuery& q);

}  // namespace hongyan::storage
