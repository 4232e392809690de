#include "key_layout.hpp"

#include <charconv>

namespace micro::redis {

TableBase::TableBase(std::string_view database, std::string_view table) noexcept
    : database_(database), table_(table) {
    // 24 characters hold any size_t in decimal.
    databaseDigits_ = static_cast<std::size_t>(
        std::to_chars(databaseLength_, databaseLength_ + sizeof databaseLength_, database.size())
            .ptr -
        databaseLength_);
    tableDigits_ = static_cast<std::size_t>(
        std::to_chars(tableLength_, tableLength_ + sizeof tableLength_, table.size()).ptr -
        tableLength_);
}

std::size_t TableBase::size() const noexcept {
    return 7 + databaseDigits_ + 1 + database_.size() + 1 + tableDigits_ + 1 + table_.size() + 2;
}

namespace {
void appendBase(std::string& out, std::string_view database, std::string_view table) {
    TableBase(database, table).write([&](std::string_view piece) { out += piece; });
}
}  // namespace

TableKeys::TableKeys(std::string_view database, std::string_view table) {
    std::string base;
    appendBase(base, database, table);
    recordPrefix_ = base + "r:";
    index_ = base + "idx";
    expiries_ = base + "exp";
    versions_ = base + "ver";
}

std::string TableKeys::recordKey(std::string_view database, std::string_view table,
                                 std::string_view key) {
    std::string out;
    out.reserve(32 + database.size() + table.size() + key.size());
    appendBase(out, database, table);
    out += "r:";
    out += key;
    return out;
}

std::string lexMin(std::string_view prefix) {
    if (prefix.empty()) return "-";
    std::string bound;
    bound.reserve(prefix.size() + 1);
    bound += '[';
    bound += prefix;
    return bound;
}

std::string lexMax(std::string_view prefix) {
    // The smallest string greater than every string starting with `prefix`:
    // drop trailing 0xff bytes, then increment the last byte. A prefix of
    // only 0xff bytes has no such bound: everything after it matches.
    std::string bound(prefix);
    while (!bound.empty() && static_cast<unsigned char>(bound.back()) == 0xff) bound.pop_back();
    if (bound.empty()) return "+";
    bound.back() = static_cast<char>(static_cast<unsigned char>(bound.back()) + 1);
    bound.insert(bound.begin(), '(');
    return bound;
}

}  // namespace micro::redis
